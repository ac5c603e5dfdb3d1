/**
 * PostgreSQL stops answering (a TCP proxy in front of it stops forwarding): authentication closes with 1011 within
 * the auth timeout, /readyz and /v1/publish answer 503 within 2 s, open sockets keep their pongs, and everything
 * recovers once it answers again. Needs a PostgreSQL: DATABASE_URL, else the CI's postgres://postgres@127.0.0.1:5432/test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { seed } from '../src/db/seed.ts';
import { startGateway } from './helpers/gateway.ts';
import { startTcpProxy } from './helpers/tcp-proxy.ts';
import { TestClient } from './helpers/ws-client.ts';

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function admin(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Milliseconds `work` took, with its result. */
async function timed<T>(work: Promise<T>): Promise<[T, number]> {
  const started = Date.now();
  const result = await work;
  return [result, Date.now() - started];
}

test('a hung PostgreSQL: 1011 on auth, 503 within 2 s, pongs keep flowing; all recovers', async (t) => {
  const name = `rt_hang_${randomBytes(5).toString('hex')}`;
  await admin(`create database ${name}`);
  const direct = new URL(ADMIN_URL);
  direct.pathname = `/${name}`;
  const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const viaProxy = new URL(direct);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  const setup = await openDatabase({ url: direct.toString() });
  await migrate(setup);
  await seed(setup);
  await setup.close();
  const timeouts = { connectTimeoutMs: 1000, statementTimeoutMs: 1000, idleInTransactionTimeoutMs: 5000 };
  const db = await openDatabase({ url: viaProxy.toString(), timeouts });
  t.after(async () => {
    proxy.resume();
    await db.close();
    await proxy.close();
    await admin(`drop database if exists ${name} with (force)`);
  });
  const gw = await startGateway(t, { db, seed: false, env: { AUTH_TIMEOUT_MS: '1500' } });
  const token = await gw.token('demo-fan-basic');
  const open = await gw.connect('demo-fan-vip');
  const publish = () => gw.api('/v1/publish', { userId: 'demo-fan-basic', type: 'note', data: { n: 1 } });
  assert.equal((await publish()).status, 200);

  proxy.hang();
  const [closed, authMs] = await timed(new TestClient(`${gw.wsUrl}?token=${token}`).closed);
  assert.deepEqual(closed, { code: 1011, reason: 'authentication could not be checked; retry' });
  assert.ok(authMs < 1500 + 500, `closed after ${authMs} ms`);

  const [ready, readyMs] = await timed(fetch(`${gw.httpUrl}/readyz`));
  assert.equal(ready.status, 503);
  assert.equal(((await ready.json()) as any).checks.database, false);
  assert.ok(readyMs < 2000, `/readyz answered after ${readyMs} ms`);

  const [published, publishMs] = await timed(publish());
  assert.equal(published.status, 503);
  assert.equal(published.body.error.code, 'GW_ERR_DATABASE_UNAVAILABLE');
  assert.ok(publishMs < 2000, `/v1/publish answered after ${publishMs} ms`);

  // A database-bound frame, then a ping: the pong does not wait for the subscribe.
  open.send({ type: 'subscribe', channel: { type: 'creator', id: 'demo-creator' } });
  const sentAt = Date.now();
  open.send({ type: 'ping' });
  const answers: string[] = [];
  const pong = open.next('pong').then(() => answers.push('pong'));
  const failed = open.next('error', 10_000).then((f) => answers.push(f.data.code));
  await Promise.all([pong, failed]);
  assert.deepEqual(answers, ['pong', 'GW_ERR_SUBSCRIBE_FAILED']);
  assert.ok(Date.now() - sentAt < 10_000);

  proxy.resume();
  const until = Date.now() + 15_000;
  let readyAgain = 0;
  while (Date.now() < until && (readyAgain = (await fetch(`${gw.httpUrl}/readyz`)).status) !== 200) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(readyAgain, 200, 'ready again');
  assert.equal((await publish()).status, 200);
  const again = await gw.connect('demo-fan-basic');
  again.send({ type: 'ping' });
  assert.equal((await again.next('pong')).type, 'pong');
  open.send({ type: 'subscribe', channel: { type: 'creator', id: 'demo-creator' } });
  assert.equal((await open.next('subscribed')).data.channelKey, 'creator_demo-creator');
});

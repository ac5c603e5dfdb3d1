/**
 * PostgreSQL stops answering (a TCP proxy of the test's own holds every byte, as a SIGSTOPped server looks from
 * outside): a new socket is closed with 1011 (retry; the token is fine), /readyz and /v1/publish answer 503 within
 * 2 s, an open socket keeps getting its pongs while a database-bound frame of its own waits, and once the proxy
 * forwards again everything works: readiness, new sockets, publishes delivered.
 *
 * PGlite runs in-process and cannot hang this way, so this test always runs on a real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDatabase } from '../src/db/client.ts';
import { seed } from '../src/db/seed.ts';
import { createPostgresTestDatabase } from './helpers/database.ts';
import { startGateway, TEST_API_KEY } from './helpers/gateway.ts';
import { startTcpProxy } from './helpers/tcp-proxy.ts';
import { TestClient } from './helpers/ws-client.ts';
import { reverseScope } from './helpers/teardown.ts';

/** The bounds the issue sets for a hung database. */
const ANSWER_WITHIN_MS = 2000;
/** Short enough that every database wait ends well inside ANSWER_WITHIN_MS. */
const TIMEOUTS = { DB_CONNECT_TIMEOUT_MS: '1000', DB_STATEMENT_TIMEOUT_MS: '1200' };

test('a hung PostgreSQL: auth 1011, readiness and publish 503 within 2 s, pongs go on; all recovers after', { timeout: 120_000 }, async (t) => {
  const scope = reverseScope(t);
  const { url } = await createPostgresTestDatabase(scope);
  const direct = new URL(url!);
  const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  scope.after(() => proxy.close());
  const viaProxy = new URL(direct);
  viaProxy.port = String(proxy.port);
  const db = await openDatabase({
    url: viaProxy.toString(),
    timeouts: { connectTimeoutMs: 1000, statementTimeoutMs: 1200, idleInTransactionTimeoutMs: 10_000 },
  });
  scope.after(() => db.close());
  await seed(db);
  const gw = await startGateway(scope, { db, seed: false, env: TIMEOUTS });

  // Known before the hang: an open socket of the VIP fan.
  const vip = await gw.connect('demo-fan-vip');
  assert.equal((await fetch(`${gw.httpUrl}/readyz`)).status, 200);

  proxy.hang();

  // A user the node has not seen: the user check cannot run, so the socket closes with 1011 and a retry code.
  const started = Date.now();
  const fresh = await TestClient.open(`${gw.wsUrl}?token=${await gw.token('demo-fan-basic')}`);
  scope.after(() => fresh.close());
  const closed = await Promise.race([fresh.closed, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
  assert.ok(closed, 'the socket of an unchecked user was closed');
  assert.equal(closed.code, 1011, `closed with ${closed.code} ${closed.reason}`);
  t.diagnostic(`auth refused with 1011 after ${Date.now() - started} ms`);

  // Readiness and publish answer 503 within the bound.
  const timed = async (request: () => Promise<Response>) => {
    const at = Date.now();
    const res = await request();
    return { status: res.status, body: await res.json().catch(() => null), ms: Date.now() - at };
  };
  const ready = await timed(() => fetch(`${gw.httpUrl}/readyz`, { signal: AbortSignal.timeout(10_000) }));
  assert.equal(ready.status, 503);
  assert.ok(ready.ms < ANSWER_WITHIN_MS, `/readyz answered after ${ready.ms} ms`);
  // More publishes at once than the pool has connections (10): each one's transaction fails, and none may keep its
  // connection (drizzle's own pool transaction leaked it when `begin` failed, and the pool ran dry for good).
  const publishes = await Promise.all(
    Array.from({ length: 12 }, (_, n) =>
      timed(() =>
        fetch(`${gw.httpUrl}/v1/publish`, {
          method: 'POST',
          signal: AbortSignal.timeout(10_000),
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}` },
          body: JSON.stringify({ userId: 'demo-fan-vip', type: 'note', data: { n } }),
        }),
      ),
    ),
  );
  for (const publish of publishes) {
    assert.equal(publish.status, 503);
    assert.equal(publish.body?.error?.code, 'GW_ERR_DATABASE_UNAVAILABLE');
    assert.ok(publish.ms < ANSWER_WITHIN_MS, `/v1/publish answered after ${publish.ms} ms`);
  }

  // The open socket: a subscribe that needs the database waits (or fails), and pings sent behind it are answered.
  vip.send({ type: 'subscribe', channel: { type: 'post', postId: 'demo-post-vip' } });
  for (let i = 0; i < 3; i++) {
    const at = Date.now();
    vip.send({ type: 'ping' });
    await vip.next('pong', 1000);
    assert.ok(Date.now() - at < 1000, `pong ${i} after ${Date.now() - at} ms`);
  }
  const answer = await vip.next((f) => f.type === 'subscribed' || f.type === 'error', 10_000);
  assert.equal(answer.type, 'error', 'the subscribe that needed the hung database failed instead of hanging');
  assert.equal(answer.data.code, 'GW_ERR_SUBSCRIBE_FAILED', 'the retryable code of a subscribe whose access check could not run');

  proxy.resume();

  // Everything recovers: readiness, a new socket of the refused user, the subscribe, a publish delivered.
  const deadline = Date.now() + 15_000;
  while ((await fetch(`${gw.httpUrl}/readyz`)).status !== 200) {
    assert.ok(Date.now() < deadline, '/readyz turned 200 again');
    await new Promise((r) => setTimeout(r, 100));
  }
  const again = await gw.connect('demo-fan-basic');
  again.send({ type: 'ping' });
  await again.next('pong');
  vip.send({ type: 'subscribe', channel: { type: 'post', postId: 'demo-post-vip' } });
  assert.equal((await vip.next((f) => f.type === 'subscribed' || f.type === 'error', 10_000)).type, 'subscribed');
  const sent = await gw.api('/v1/publish', { userId: 'demo-fan-vip', type: 'note', data: { n: 'after' } });
  assert.equal(sent.status, 200);
  const note = await vip.next('note', 10_000);
  assert.deepEqual(note.data, { n: 'after' }, 'no publish of the hang was delivered; the one after is');
});

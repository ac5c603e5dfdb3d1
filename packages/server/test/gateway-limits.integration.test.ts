import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './helpers/gateway.ts';
import { TestClient } from './helpers/ws-client.ts';

function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const client = new TestClient(url, { headers });
  return new Promise((resolve) => {
    client.socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    client.socket.on('open', () => {
      resolve(101);
      client.close();
    });
  });
}

test('ALLOWED_ORIGINS refuses upgrades from other origins with 403', async (t) => {
  const gw = await startGateway(t, { env: { ALLOWED_ORIGINS: 'https://fonana.me,http://localhost:3000' } });
  const url = `${gw.wsUrl}?token=${await gw.token('demo-fan-basic')}`;
  assert.equal(await upgradeStatus(url, { origin: 'https://evil.example' }), 403);
  assert.equal(await upgradeStatus(url), 403, 'no Origin header is not an allowed origin');
  assert.equal(await upgradeStatus(url, { origin: 'https://fonana.me' }), 101);
  assert.equal(await upgradeStatus(url, { origin: 'http://localhost:3000' }), 101);
  assert.equal(await upgradeStatus(`ws://127.0.0.1:${gw.node.port}/elsewhere`), 404, 'only /ws and / upgrade');
});

test('MAX_CONNECTIONS bounds the sockets of a process (503 on upgrade)', async (t) => {
  const gw = await startGateway(t, { env: { MAX_CONNECTIONS: '2' } });
  await gw.connect('demo-fan-basic');
  await gw.connect('demo-fan-vip');
  assert.equal(await upgradeStatus(`${gw.wsUrl}?token=${await gw.token('demo-fan-free')}`), 503);
});

test('an event larger than the send buffer limit closes that socket as a slow consumer (4009)', async (t) => {
  const gw = await startGateway(t, { env: { MAX_BUFFERED_BYTES: '2048' } });
  const small = await gw.connect('demo-fan-basic');
  await gw.api('/v1/publish', { userId: 'demo-fan-basic', type: 'big', data: { blob: 'x'.repeat(4096) } });
  const closed = await small.closed;
  assert.deepEqual([closed.code, closed.reason], [4009, 'slow consumer: send buffer full']);
  const other = await gw.connect('demo-fan-basic');
  await gw.api('/v1/publish', { userId: 'demo-fan-basic', type: 'small', data: { n: 1 } });
  assert.deepEqual((await other.next('small')).data, { n: 1 }, 'events within the limit still flow');
});

test('too many frames waiting before authentication close the socket (4010)', async (t) => {
  const gw = await startGateway(t, { env: { MAX_QUEUED_FRAMES: '5' } });
  const token = await gw.token('demo-fan-basic');
  const client = new TestClient(gw.wsUrl);
  client.socket.on('open', () => {
    client.send({ type: 'auth', token });
    for (let i = 0; i < 50; i++) client.send({ type: 'ping' });
  });
  const closed = await client.closed;
  assert.deepEqual([closed.code, closed.reason], [4010, 'too many frames waiting to be processed']);
});

test('when the database is gone, a connect and an in-band re-auth close with 1011 (retry later), not 4001, and the node still stops', async (t) => {
  const { createTestDatabase } = await import('./helpers/database.ts');
  const { seed } = await import('../src/db/seed.ts');
  const dropLater: (() => unknown)[] = [];
  const { db } = await createTestDatabase({ after: (fn) => void dropLater.push(fn) });
  await seed(db);
  const gw = await startGateway(t, { db, seed: false });
  t.after(async () => {
    for (const fn of dropLater) await fn(); // after the gateway's own teardown (hooks run in order)
  });
  const token = await gw.token('demo-fan-basic');
  const open = await gw.connect('demo-fan-vip');
  await db.close();
  open.send({ type: 'auth', token: await gw.token('demo-fan-vip') });
  const reauth = await open.closed;
  assert.deepEqual([reauth.code, reauth.reason], [1011, 'authentication could not be checked; retry'], 'the refresh, not the token, failed');
  const client = new TestClient(`${gw.wsUrl}?token=${token}`);
  const closed = await client.closed;
  assert.deepEqual([closed.code, closed.reason], [1011, 'authentication could not be checked; retry']);
  assert.equal((await fetch(`${gw.httpUrl}/readyz`)).status, 503);
  await gw.node.shutdown(0);
});

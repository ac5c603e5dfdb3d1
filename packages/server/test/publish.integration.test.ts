import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createTestDatabase } from './helpers/database.ts';
import { startGateway, TEST_API_KEY } from './helpers/gateway.ts';

test('POST /v1/publish needs the API key; without a configured key it is 503', async (t) => {
  const gw = await startGateway(t);
  const noKey = await gw.api('/v1/publish', { userId: 'demo-fan-vip', type: 'x' }, { authorization: '' });
  assert.equal(noKey.status, 401);
  assert.equal(noKey.body.error.code, 'GW_ERR_API_UNAUTHORIZED');
  const wrongKey = await gw.api('/v1/publish', { userId: 'demo-fan-vip', type: 'x' }, { authorization: `Bearer ${TEST_API_KEY}x` });
  assert.equal(wrongKey.status, 401);

  const unconfigured = await startGateway(t, { env: { REALTIME_API_KEY: '' } });
  const res = await unconfigured.api('/v1/publish', { userId: 'demo-fan-vip', type: 'x' });
  assert.equal(res.status, 503);
  assert.equal(res.body.error.code, 'GW_ERR_API_NOT_CONFIGURED');
});

test('a bad body is a 400 naming the field', async (t) => {
  const gw = await startGateway(t);
  const cases: [unknown, string][] = [
    [{ userId: 'demo-fan-vip' }, 'type'],
    [{ userId: 'demo-fan-vip', type: 'has space' }, 'type'],
    [{ type: 'x' }, 'channel'],
    [{ type: 'x', userId: 'a', channel: 'creator:b' }, 'channel'],
    [{ type: 'x', channel: 'galaxy:1' }, 'channel'],
    [{ type: 'x', userId: 'bad id' }, 'userId'],
    [{ type: 'x', userId: 'a', extra: 1 }, 'extra'],
    [{ type: 'x', userId: 'a', idempotencyKey: '' }, 'idempotencyKey'],
  ];
  for (const [body, field] of cases) {
    const res = await gw.api('/v1/publish', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.code, 'GW_ERR_BAD_REQUEST');
    assert.equal(res.body.error.field, field, JSON.stringify(body));
  }
  const notJson = await gw.api('/v1/publish', '{oops');
  assert.equal(notJson.status, 400);
});

test('the same idempotencyKey returns the same id and delivers the event once', async (t) => {
  const gw = await startGateway(t);
  const client = await gw.connect('demo-fan-vip');
  const body = { userId: 'demo-fan-vip', type: 'once', data: { n: 1 }, idempotencyKey: 'order-42' };
  const results = await Promise.all([gw.api('/v1/publish', body), gw.api('/v1/publish', body), gw.api('/v1/publish', body)]);
  const ids = new Set(results.map((r) => r.body.id));
  assert.equal(ids.size, 1, 'one id for all three');
  assert.deepEqual(results.map((r) => r.status), [200, 200, 200]);
  assert.equal(results.filter((r) => r.body.duplicate === false).length, 1);
  const event = await client.next('once');
  assert.equal(event.id, [...ids][0]);
  const later = await gw.api('/v1/publish', body);
  assert.equal(later.body.id, event.id);
  assert.deepEqual(await client.none('once', 500), [], 'delivered once');
  const other = await gw.api('/v1/publish', { ...body, idempotencyKey: 'order-43' });
  assert.notEqual(other.body.id, event.id);
  assert.equal((await client.next('once')).id, other.body.id);
});

test('health and readiness', async (t) => {
  const gw = await startGateway(t);
  const health = await fetch(`${gw.httpUrl}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const ready = await fetch(`${gw.httpUrl}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ready', checks: { draining: false, database: true, broker: true } });
  const metrics = await fetch(`http://127.0.0.1:${gw.node.metricsPort}/metrics`);
  const text = await metrics.text();
  for (const name of ['realtime_connections', 'realtime_subscriptions', 'realtime_frames_in_total', 'realtime_events_delivered_total', 'realtime_auth_failures_total', 'realtime_errors_total', 'realtime_outbox_pending']) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  const notOnPublicPort = await fetch(`${gw.httpUrl}/metrics`);
  assert.equal(notOnPublicPort.status, 404, 'metrics are not on the public port');
});

test('with Redis unreachable at start the gateway still starts, healthy but not ready, and stops cleanly', async (t) => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  // The database is made first, so the bound below times the node's start alone, not a loaded machine's PGlite.
  const closeDatabase: (() => unknown)[] = [];
  const { db } = await createTestDatabase({ after: (fn) => void closeDatabase.push(fn) });
  const started = Date.now();
  const gw = await startGateway(t, { db, seed: false, env: { REDIS_URL: `redis://127.0.0.1:${closedPort}` } });
  t.after(async () => {
    for (const fn of closeDatabase.reverse()) await fn(); // after the node's own teardown, registered above
  });
  assert.ok(Date.now() - started < 15_000, 'start does not hang');
  assert.equal((await fetch(`${gw.httpUrl}/healthz`)).status, 200);
  const ready = await fetch(`${gw.httpUrl}/readyz`);
  assert.equal(ready.status, 503);
  assert.equal(((await ready.json()) as any).checks.broker, false);
});

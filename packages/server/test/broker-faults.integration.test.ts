/**
 * Gap-free delivery across broker faults, with a Redis of the test's own: what a node misses while its subscriber
 * connection is down is filled from history once it is back, including entitlement events (access re-checked).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisBroker } from '../src/broker/redis-broker.ts';
import { openDatabase } from '../src/db/client.ts';
import { createTestDatabase } from './helpers/database.ts';
import { startGateway } from './helpers/gateway.ts';
import { startOwnRedis } from './helpers/redis.ts';
import { startCuttableProxy } from './helpers/cuttable-proxy.ts';
import { reverseScope } from './helpers/teardown.ts';

/** Node A talks to Redis directly; node B through a proxy the test cuts. Both on one database. */
async function twoNodesOneCuttable(t: { after(fn: () => unknown): void }) {
  const scope = reverseScope(t);
  const redis = await startOwnRedis(scope);
  const proxy = await startCuttableProxy(redis.port);
  scope.after(() => proxy.close());
  const { db, url } = await createTestDatabase(scope);
  const dbB = url ? await openDatabase({ url }) : db;
  if (dbB !== db) scope.after(() => dbB.close());
  const prefix = 'rt-faults:';
  const brokerA = new RedisBroker({ url: redis.url, prefix, onError: ignore });
  const brokerB = new RedisBroker({ url: `redis://127.0.0.1:${proxy.port}`, prefix, onError: ignore });
  scope.after(() => brokerA.close());
  scope.after(() => brokerB.close());
  const a = await startGateway(scope, { db, broker: brokerA });
  const b = await startGateway(scope, { db: dbB, broker: brokerB, seed: false });
  return { a, b, proxy, brokerB };
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("a cancel committed while a node's subscriber is down still revokes the fan's post subscription there", async (t) => {
  const { a, b, proxy, brokerB } = await twoNodesOneCuttable(t);
  const fan = await b.connect('demo-fan-basic');
  fan.send({ type: 'subscribe', channel: 'post:demo-post-basic' });
  assert.equal((await fan.next('subscribed')).data.channelKey, 'post_demo-post-basic');
  const creator = await b.connect('demo-creator');
  creator.send({ type: 'subscribe', channel: 'post:demo-post-basic' });
  await creator.next('subscribed');

  proxy.cut();
  await until(() => !brokerB.isHealthy(), "node B's broker notices the loss");
  const cancelled = await a.api('/v1/subscriptions/cancel', { userId: 'demo-fan-basic', creatorId: 'demo-creator' });
  assert.equal(cancelled.status, 200);
  // Node A got the event through Redis: it was published while B could not receive it.
  await until(async () => (await a.node.metrics.outboxPublished.get()).values[0]!.value >= 1, 'the cancel is published');
  assert.deepEqual(await fan.none('subscription-updated', 300), [], 'B missed it');

  proxy.restore();
  const update = await fan.next('subscription-updated', 20_000);
  assert.equal(update.data.status, 'cancelled');
  const revoked = await fan.next('unsubscribed', 10_000);
  assert.equal(revoked.data.reason, 'access_revoked');
  assert.equal(revoked.data.channelKey, 'post_demo-post-basic');

  const later = await a.api('/v1/publish', { channel: 'post:demo-post-basic', type: 'comment', data: { text: 'after' } });
  assert.equal((await creator.next('comment')).id, later.body.id, 'the node delivers the post channel again');
  assert.deepEqual(await fan.none('comment', 300), [], 'the fan gets no later event of the post');
});

test('events published while the subscriber was down arrive after it is back, in order, once', async (t) => {
  const { a, b, proxy, brokerB } = await twoNodesOneCuttable(t);
  const client = await b.connect('demo-fan-none');
  const publish = async (i: number) => (await a.api('/v1/publish', { userId: 'demo-fan-none', type: 'tick', data: { i } })).body.id as string;
  const ids = [await publish(0)];
  assert.equal((await client.next('tick')).id, ids[0]);

  proxy.cut();
  await until(() => !brokerB.isHealthy(), "node B's broker notices the loss");
  for (let i = 1; i <= 5; i++) ids.push(await publish(i));
  await until(async () => (await a.node.metrics.outboxPublished.get()).values[0]!.value >= 6, 'all published');
  proxy.restore();
  const got: string[] = [];
  for (let i = 1; i <= 5; i++) got.push((await client.next('tick', 20_000)).id as string);
  assert.deepEqual(got, ids.slice(1));
  ids.push(await publish(6));
  assert.equal((await client.next('tick')).id, ids[6]);
  assert.deepEqual(await client.none('tick', 300), [], 'nothing repeated');
});

/** Connection trouble is the point of these tests; the brokers' warnings would only clutter the output. */
function ignore(): void {}

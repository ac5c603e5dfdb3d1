import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Broker } from '../src/broker/broker.ts';
import { MemoryBroker } from '../src/broker/memory-broker.ts';
import { RedisBroker } from '../src/broker/redis-broker.ts';
import { openDatabase } from '../src/db/client.ts';
import { createTestDatabase } from './helpers/database.ts';
import { startGateway } from './helpers/gateway.ts';
import { confirm, TEST_WEBHOOK_SECRET } from './helpers/payments.ts';
import { reverseScope } from './helpers/teardown.ts';

/** Two gateway processes' worth of nodes on one database and one broker (Redis with REDIS_URL, else in-process). */
async function twoNodes(t: { after(fn: () => unknown): void }) {
  const scope = reverseScope(t);
  const { db, url } = await createTestDatabase(scope);
  const dbB = url ? await openDatabase({ url }) : db;
  if (dbB !== db) scope.after(() => dbB.close());
  const prefix = `rt-cluster-${randomUUID()}:`;
  const redisUrl = process.env.REDIS_URL;
  const brokerA: Broker = redisUrl ? new RedisBroker({ url: redisUrl, prefix }) : new MemoryBroker();
  const brokerB: Broker = redisUrl ? new RedisBroker({ url: redisUrl, prefix }) : new MemoryBroker({ peer: brokerA as MemoryBroker });
  scope.after(() => brokerA.close());
  scope.after(() => brokerB.close());
  const env = { PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET, EXPIRY_SWEEP_MS: '600000' };
  const a = await startGateway(scope, { db, broker: brokerA, env });
  const b = await startGateway(scope, { db: dbB, broker: brokerB, env, seed: false });
  return { a, b };
}

test('a user with sockets on two nodes gets each event once on every socket', async (t) => {
  const { a, b } = await twoNodes(t);
  const onA = await a.connect('demo-fan-none');
  const onB = await b.connect('demo-fan-none');
  const published = await Promise.all(Array.from({ length: 20 }, (_, i) => a.api('/v1/publish', { userId: 'demo-fan-none', type: 'tick', data: { i } })));
  const ids = published.map((r) => r.body.id).sort();
  for (const socket of [onA, onB]) {
    const got: string[] = [];
    for (let i = 0; i < 20; i++) got.push((await socket.next('tick')).id as string);
    assert.deepEqual(got.sort(), ids);
    assert.deepEqual(await socket.none('tick', 300), [], 'no duplicates although both nodes run a relay');
  }

  const purchase = await confirm(b.httpUrl, {
    kind: 'post_purchase',
    txSignature: `tx-cluster-${randomUUID()}`,
    userId: 'demo-fan-none',
    postId: 'demo-post-priced',
    amount: 0.1,
    currency: 'SOL',
  });
  assert.equal(purchase.status, 200, JSON.stringify(purchase.body));
  const [fromA, fromB] = await Promise.all([onA.next('post-purchased'), onB.next('post-purchased')]);
  assert.equal(fromA.id, fromB.id);
  assert.equal(fromA.data.post.id, 'demo-post-priced');
});

test('a cancellation on one node revokes the post subscription of a socket on the other', async (t) => {
  const { a, b } = await twoNodes(t);
  const onB = await b.connect('demo-fan-basic');
  onB.send({ type: 'subscribe', channel: 'post:demo-post-basic' });
  assert.equal((await onB.next('subscribed')).data.channelKey, 'post_demo-post-basic');
  const cancelled = await a.api('/v1/subscriptions/cancel', { userId: 'demo-fan-basic', creatorId: 'demo-creator' });
  assert.equal(cancelled.status, 200);
  assert.equal((await onB.next('subscription-updated')).data.status, 'cancelled');
  assert.equal((await onB.next('unsubscribed')).data.reason, 'access_revoked');
});

test('a node receives only the events of channels it has sockets for (counted by realtime_broker_messages_received_total)', async (t) => {
  const { a, b } = await twoNodes(t);
  const received = async (node: typeof a) => (await node.node.metrics.brokerMessagesReceived.get()).values[0]?.value ?? 0;
  const publishOnPost = async () => {
    const res = await a.api('/v1/publish', { channel: 'post:demo-post-free', type: 'tick', data: null });
    assert.equal(res.status, 200);
    return res.body.id as string;
  };
  const onA = await a.connect('demo-fan-none');
  onA.send({ type: 'subscribe', channel: 'post:demo-post-free' });
  await onA.next('subscribed');
  const [aBefore, bBefore] = [await received(a), await received(b)];
  for (let i = 0; i < 3; i++) {
    const id = await publishOnPost();
    assert.equal((await onA.next('tick')).id, id);
  }
  // a's socket got each event from a itself, which published it; the broker's copies arrive a moment later.
  const deadline = Date.now() + 5000;
  while ((await received(a)) - aBefore < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await received(a)) - aBefore, 3);
  assert.equal((await received(b)) - bBefore, 0, 'b has no socket on the channel: nothing reached it');

  const onB = await b.connect('demo-fan-free');
  onB.send({ type: 'subscribe', channel: 'post:demo-post-free' });
  await onB.next('subscribed');
  const id = await publishOnPost();
  assert.equal((await onB.next('tick')).id, id);
  assert.equal((await onA.next('tick')).id, id);
  const bWith = await received(b);
  assert.ok(bWith - bBefore >= 1);

  onB.send({ type: 'unsubscribe', channel: 'post:demo-post-free' });
  await onB.next('unsubscribed');
  const last = await publishOnPost();
  assert.equal((await onA.next('tick')).id, last, 'a keeps receiving');
  // b's user channel still routes (its socket is open), but no event of the post reaches it any more.
  assert.equal(await received(b), bWith);
});

/**
 * The post cache of `post` subscriptions against a real database: lookups of one turn share a query, found posts are
 * remembered within the TTL and a bounded size, missing ones never; through a gateway, many subscribes to one post
 * read it once, while a purchase or a cancellation changes the very next subscribe's answer (the viewer's facts are
 * never cached).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import { PostCache } from '../src/gateway/post-cache.ts';
import { posts } from '../src/db/schema.ts';
import { seed } from '../src/db/seed.ts';
import { createTestDatabase } from './helpers/database.ts';
import { startGateway } from './helpers/gateway.ts';
import { confirm, TEST_WEBHOOK_SECRET } from './helpers/payments.ts';
import type { TestClient } from './helpers/ws-client.ts';

function counted(db: ConstructorParameters<typeof PostCache>[0], options: { ttlMs: number; maxEntries: number }) {
  const stats = { queries: 0 };
  const cache = new PostCache(db, { ...options, onQuery: () => stats.queries++ });
  return { cache, stats };
}

async function subscribe(client: TestClient, channel: string) {
  client.send({ type: 'subscribe', channel });
  return client.next((f) => f.type === 'subscribed' || f.type === 'error', 10_000);
}

async function unsubscribe(client: TestClient, channel: string) {
  client.send({ type: 'unsubscribe', channel });
  await client.next('unsubscribed');
}

test('lookups of one turn share a query; found posts are remembered, missing ones never', async (t) => {
  const { db } = await createTestDatabase(t);
  await seed(db);
  const { cache, stats } = counted(db.orm, { ttlMs: 60_000, maxEntries: 100 });
  const ids = [...Array(50).fill('demo-post-priced'), 'demo-post-basic', 'nope-1', 'nope-2'];
  const answers = await Promise.all(ids.map((id) => cache.get(id)));
  assert.equal(stats.queries, 1, '53 lookups in one turn: one query');
  assert.deepEqual(answers[0], {
    id: 'demo-post-priced',
    creatorId: 'demo-creator',
    isLocked: true,
    isPremium: false,
    price: 0.1,
    currency: 'SOL',
    minSubscriptionTier: null,
  });
  assert.equal(answers[50]?.minSubscriptionTier, 'basic');
  assert.deepEqual(answers.slice(51), [null, null]);
  assert.equal(cache.size, 2, 'only found posts are remembered');

  await db.orm.update(posts).set({ price: 0.5 }).where(eq(posts.id, 'demo-post-priced'));
  assert.equal((await cache.get('demo-post-priced'))?.price, 0.1, 'remembered within the TTL');
  assert.equal(stats.queries, 1);
  assert.equal(await cache.get('nope-1'), null);
  assert.equal(stats.queries, 2, 'a missing post is asked again');
  await db.orm.insert(posts).values({ id: 'nope-1', creatorId: 'demo-creator', title: 'new', content: 'c', type: 'text', updatedAt: new Date() });
  assert.equal((await cache.get('nope-1'))?.creatorId, 'demo-creator', 'a post created after a miss is found at once');
});

test('a remembered post is read again after the TTL; TTL 0 always reads', async (t) => {
  const { db } = await createTestDatabase(t);
  await seed(db);
  const { cache, stats } = counted(db.orm, { ttlMs: 200, maxEntries: 100 });
  assert.equal((await cache.get('demo-post-free'))?.isLocked, false);
  await db.orm.update(posts).set({ isLocked: true }).where(eq(posts.id, 'demo-post-free'));
  await sleep(300);
  assert.equal((await cache.get('demo-post-free'))?.isLocked, true, 'the edit is seen once the TTL passed');
  assert.equal(stats.queries, 2);

  const never = counted(db.orm, { ttlMs: 0, maxEntries: 100 });
  await never.cache.get('demo-post-free');
  await never.cache.get('demo-post-free');
  assert.equal(never.stats.queries, 2);
  assert.equal(never.cache.size, 0);
});

test('the cache is bounded (oldest dropped first), and a failing database rejects the waiting lookups', async (t) => {
  const { db } = await createTestDatabase(t);
  await seed(db);
  const { cache, stats } = counted(db.orm, { ttlMs: 60_000, maxEntries: 2 });
  for (const id of ['demo-post-free', 'demo-post-locked', 'demo-post-priced']) await cache.get(id);
  assert.equal(cache.size, 2);
  assert.equal(stats.queries, 3);
  await cache.get('demo-post-priced');
  await cache.get('demo-post-locked');
  assert.equal(stats.queries, 3, 'the two newest are remembered');
  await cache.get('demo-post-free');
  assert.equal(stats.queries, 4, 'the oldest was dropped');

  const { db: closed } = await createTestDatabase(t);
  const failing = new PostCache(closed.orm, { ttlMs: 60_000, maxEntries: 10 });
  await closed.close();
  await assert.rejects(Promise.all([failing.get('x'), failing.get('y')]));
});

test('many subscribes to one post read it once; a purchase and a cancellation change the next answer at once', async (t) => {
  const gw = await startGateway(t, { env: { PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET, POST_CACHE_TTL_MS: '600000' } });
  const queries = async () => (await gw.node.metrics.postLookupQueries.get()).values[0]?.value ?? 0;
  const users = ['demo-fan-basic', 'demo-fan-premium', 'demo-fan-vip', 'demo-creator'];
  const clients: TestClient[] = [];
  for (let i = 0; i < 20; i++) clients.push(await gw.connect(users[i % users.length]!));
  const answers = await Promise.all(clients.map((c) => subscribe(c, 'post:demo-post-basic')));
  assert.deepEqual(new Set(answers.map((f) => f.type)), new Set(['subscribed']));
  const concurrent = await queries();
  t.diagnostic(`20 concurrent post subscribes: ${concurrent} post queries`);
  assert.ok(concurrent >= 1 && concurrent <= 3, `20 subscribes at once: ${concurrent} post queries`);
  for (const c of clients) {
    await unsubscribe(c, 'post:demo-post-basic');
    assert.equal((await subscribe(c, 'post:demo-post-basic')).type, 'subscribed');
  }
  assert.equal(await queries(), concurrent, 'and 20 more after them: none');

  // The post is remembered; the viewer's subscription is not: a cancellation refuses the next subscribe at once,
  // before its event reached the socket.
  const fan = clients[0]!;
  await unsubscribe(fan, 'post:demo-post-basic');
  const cancelled = await gw.api('/v1/subscriptions/cancel', { userId: 'demo-fan-basic', creatorId: 'demo-creator' });
  assert.equal(cancelled.status, 200);
  assert.equal((await subscribe(fan, 'post:demo-post-basic')).data.code, 'GW_ERR_CHANNEL_FORBIDDEN');

  const buyer = await gw.connect('demo-fan-none');
  assert.equal((await subscribe(buyer, 'post:demo-post-priced')).data.code, 'GW_ERR_CHANNEL_FORBIDDEN');
  const bought = await confirm(gw.httpUrl, {
    kind: 'post_purchase',
    txSignature: `tx-post-cache-${process.pid}-${Date.now()}`,
    userId: 'demo-fan-none',
    postId: 'demo-post-priced',
    amount: 0.1,
    currency: 'SOL',
    fromWallet: 'BuyerWallet111',
    toWallet: 'CreatorWallet111',
  });
  assert.equal(bought.status, 200, JSON.stringify(bought.body));
  assert.equal((await subscribe(buyer, 'post:demo-post-priced')).type, 'subscribed', 'a purchase unlocks the next subscribe at once');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eq, and, sql } from 'drizzle-orm';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { confirm, snapshot, TEST_WEBHOOK_SECRET } from './helpers/payments.ts';
import { notifications, postPurchases, subscriptions, transactions } from '../src/db/schema.ts';
import type { TestClient } from './helpers/ws-client.ts';
import { createTestDatabase } from './helpers/database.ts';
import { seed } from '../src/db/seed.ts';
import { confirmPayment, type PostPurchaseConfirmation, type SubscriptionConfirmation } from '../src/db/payments.ts';
import type { StoredEvent } from '../src/db/outbox.ts';
import { creatorPostPartition } from '../src/db/subscriptions.ts';

// The expiry sweep would announce the seeded expired subscription mid-test; only the expiry test runs it.
const env = { PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET, EXPIRY_SWEEP_MS: '600000' };
const sweepingEnv = { ...env, EXPIRY_SWEEP_MS: '200' };
let sig = 0;
const txSignature = () => `tx-${process.pid}-${Date.now()}-${++sig}`;

async function subscribe(client: TestClient, channel: unknown) {
  client.send({ type: 'subscribe', channel });
  return client.next((f) => f.type === 'subscribed' || f.type === 'error');
}

const purchase = (overrides: Record<string, unknown> = {}) => ({
  kind: 'post_purchase',
  txSignature: txSignature(),
  userId: 'demo-fan-none',
  postId: 'demo-post-priced',
  amount: 0.1,
  currency: 'SOL',
  fromWallet: 'BuyerWallet111',
  toWallet: 'CreatorWallet111',
  ...overrides,
});

const subscription = (overrides: Record<string, unknown> = {}) => ({
  kind: 'subscription',
  txSignature: txSignature(),
  userId: 'demo-fan-none',
  creatorId: 'demo-creator',
  plan: 'basic',
  amount: 0.05,
  currency: 'SOL',
  ...overrides,
});

test('a confirmed purchase unlocks the post on every socket of the buyer, once, with its content', async (t) => {
  const gw = await startGateway(t, { env });
  const [tab1, tab2] = [await gw.connect('demo-fan-none'), await gw.connect('demo-fan-none')];
  const creator = await gw.connect('demo-creator');
  const bystander = await gw.connect('demo-fan-vip');
  assert.equal((await subscribe(bystander, 'creator:demo-creator')).type, 'subscribed');
  assert.equal((await subscribe(tab1, 'post:demo-post-priced')).data.code, 'GW_ERR_CHANNEL_FORBIDDEN', 'locked before');

  const body = purchase();
  const res = await confirm(gw.httpUrl, body);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.replayed, false);
  assert.equal(res.body.kind, 'post_purchase');
  assert.equal(res.body.postId, 'demo-post-priced');

  const [e1, e2] = await Promise.all([tab1.next('post-purchased'), tab2.next('post-purchased')]);
  assert.deepEqual(e1, e2);
  assert.equal(e1.channel, 'user_demo-fan-none');
  assert.equal(e1.data.postId, 'demo-post-priced');
  assert.equal(e1.data.purchaseId, res.body.purchaseId);
  assert.equal(e1.data.price, 0.1);
  assert.equal(e1.data.currency, 'SOL');
  assert.equal(e1.data.post.id, 'demo-post-priced');
  assert.equal(typeof e1.data.post.content, 'string');
  assert.ok(e1.data.post.content.length > 0, 'the content comes with the event');
  assert.ok('mediaUrl' in e1.data.post && 'thumbnail' in e1.data.post && 'title' in e1.data.post && 'type' in e1.data.post);

  const note = await creator.next('notification');
  assert.equal(note.data.notification.type, 'POST_PURCHASE');
  assert.equal(note.data.notification.userId, 'demo-creator');
  assert.equal(note.data.notification.metadata.buyerId, 'demo-fan-none');

  assert.equal((await subscribe(tab1, 'post:demo-post-priced')).type, 'subscribed', 'gaining access makes the next subscribe succeed');

  // A repeated confirmation: same answer, nothing written, nothing sent.
  const before = await snapshot(gw.db);
  const again = await confirm(gw.httpUrl, body);
  assert.equal(again.status, 200);
  assert.equal(again.replayed, true);
  assert.deepEqual(again.body, res.body);
  assert.deepEqual(await snapshot(gw.db), before, 'a duplicate writes nothing');
  assert.deepEqual(await tab1.none('post-purchased', 500), [], 'and sends nothing');
  assert.deepEqual(await tab2.none('post-purchased', 0), []);
  assert.deepEqual(await bystander.none((f) => f.type === 'notification' || f.type === 'post-purchased', 0), []);

  // A second purchase of the same post with another signature conflicts.
  const twice = await confirm(gw.httpUrl, purchase());
  assert.equal(twice.status, 409);
  assert.deepEqual(await snapshot(gw.db), before);
});

test('bad signatures and payments that do not match the database leave it unchanged', async (t) => {
  const gw = await startGateway(t, { env });
  const client = await gw.connect('demo-fan-none');
  const before = await snapshot(gw.db);
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, Promise<{ status: number; body: any }>, number, string?][] = [
    ['unsigned', confirm(gw.httpUrl, purchase(), { signature: null }), 401],
    ['wrong secret', confirm(gw.httpUrl, purchase(), { secret: 'another-secret-0123456789' }), 401],
    ['garbage signature', confirm(gw.httpUrl, purchase(), { signature: 't=abc,v1=zz' }), 401],
    ['stale timestamp', confirm(gw.httpUrl, purchase(), { timestamp: now - 301 }), 401],
    ['from the future', confirm(gw.httpUrl, purchase(), { timestamp: now + 3600 }), 401],
    ['wrong amount', confirm(gw.httpUrl, purchase({ amount: 0.01 })), 422, 'amount'],
    ['wrong currency', confirm(gw.httpUrl, purchase({ currency: 'USDC' })), 422, 'currency'],
    ['own post', confirm(gw.httpUrl, purchase({ userId: 'demo-creator' })), 422, 'userId'],
    ['post not for sale', confirm(gw.httpUrl, purchase({ postId: 'demo-post-free' })), 422, 'postId'],
    ['no such post', confirm(gw.httpUrl, purchase({ postId: 'nope' })), 422, 'postId'],
    ['no such buyer', confirm(gw.httpUrl, purchase({ userId: 'nobody' })), 422, 'userId'],
    ['unknown plan', confirm(gw.httpUrl, subscription({ plan: 'gold' })), 422, 'plan'],
    ['free plan', confirm(gw.httpUrl, subscription({ plan: 'free', amount: 0.01 })), 422, 'plan'],
    ['wrong tier price', confirm(gw.httpUrl, subscription({ plan: 'premium', amount: 0.15 })), 422, 'amount'],
    ['subscribe to self', confirm(gw.httpUrl, subscription({ userId: 'demo-creator' })), 422, 'creatorId'],
    ['no such creator', confirm(gw.httpUrl, subscription({ creatorId: 'nobody' })), 422, 'creatorId'],
    ['malformed body', confirm(gw.httpUrl, { kind: 'post_purchase', txSignature: 'x' }), 400],
    ['unknown kind', confirm(gw.httpUrl, { kind: 'tip', txSignature: 'x' }), 400],
  ];
  for (const [name, pending, status, field] of cases) {
    const res = await pending;
    assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
    assert.equal(typeof res.body.error.message, 'string', name);
    if (field) assert.equal(res.body.error.field, field, name);
  }
  assert.deepEqual(await snapshot(gw.db), before, 'nothing was written');
  assert.deepEqual(await client.none('post-purchased', 300), []);
});

test('without PAYMENT_WEBHOOK_SECRET the endpoint is 503', async (t) => {
  const gw = await startGateway(t);
  const res = await confirm(gw.httpUrl, purchase());
  assert.equal(res.status, 503);
  assert.equal(res.body.error.code, 'GW_ERR_API_NOT_CONFIGURED');
});

async function subscriptionRow(gw: TestGateway, userId: string, creatorId: string) {
  const [row] = await gw.db.orm
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.userId, userId), eq(subscriptions.creatorId, creatorId)));
  return row!;
}

test('subscriptions: new, renewal, upgrade, refused downgrade; events to the subscriber, new_subscription to the creator only', async (t) => {
  const gw = await startGateway(t, { env });
  const fan = await gw.connect('demo-fan-none');
  const creator = await gw.connect('demo-creator');
  const follower = await gw.connect('demo-fan-vip');
  assert.equal((await subscribe(follower, 'creator:demo-creator')).type, 'subscribed');

  const created = await confirm(gw.httpUrl, subscription());
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assert.equal(created.body.change, 'new');
  const updated = await fan.next('subscription-updated');
  assert.equal(updated.data.creatorId, 'demo-creator');
  assert.equal(updated.data.plan, 'basic');
  assert.equal(updated.data.previousPlan, null);
  assert.equal(updated.data.status, 'active');
  assert.ok(updated.data.unlockedPostIds.includes('demo-post-basic'));
  assert.ok(updated.data.unlockedPostIds.includes('demo-post-locked'));
  assert.ok(updated.data.lockedPostIds.includes('demo-post-premium'));
  assert.ok(updated.data.lockedPostIds.includes('demo-post-priced'));
  const fresh = await subscriptionRow(gw, 'demo-fan-none', 'demo-creator');
  assert.equal(fresh.plan, 'Basic');
  assert.equal(fresh.paymentStatus, 'COMPLETED');
  assert.equal(fresh.isActive, true);
  assert.equal(fresh.validUntil.toISOString(), updated.data.validUntil);
  const days = (fresh.validUntil.getTime() - Date.now()) / 86_400_000;
  assert.ok(days > 27 && days < 32, `about a month (${days} days)`);

  const newSub = await creator.next('new_subscription');
  assert.deepEqual(newSub.data, { creatorId: 'demo-creator', userId: 'demo-fan-none', plan: 'basic', validUntil: updated.data.validUntil });
  assert.equal(newSub.channel, 'user_demo-creator');
  assert.equal((await creator.next('notification')).data.notification.type, 'NEW_SUBSCRIBER');
  assert.deepEqual(await follower.none((f) => f.type === 'new_subscription' || f.type === 'notification', 300), [], 'not on the public channel');

  const renewed = await confirm(gw.httpUrl, subscription());
  assert.equal(renewed.body.change, 'renewal');
  const afterRenewal = await subscriptionRow(gw, 'demo-fan-none', 'demo-creator');
  const gained = (afterRenewal.validUntil.getTime() - fresh.validUntil.getTime()) / 86_400_000;
  assert.ok(gained >= 28 && gained <= 31, `renewal extends validUntil by a month (${gained} days)`);
  assert.equal((await fan.next('subscription-updated')).data.validUntil, afterRenewal.validUntil.toISOString());
  assert.equal((await creator.next('notification')).data.notification.type, 'SUBSCRIPTION_PURCHASE');
  assert.deepEqual(await creator.none('new_subscription', 200), [], 'a renewal is not a new subscription');

  const upgraded = await confirm(gw.httpUrl, subscription({ plan: 'Premium', amount: 0.2 }));
  assert.equal(upgraded.status, 200, JSON.stringify(upgraded.body));
  assert.equal(upgraded.body.change, 'upgrade');
  const up = await fan.next('subscription-updated');
  assert.equal(up.data.plan, 'premium');
  assert.equal(up.data.previousPlan, 'basic');
  assert.ok(up.data.unlockedPostIds.includes('demo-post-premium'));
  const afterUpgrade = await subscriptionRow(gw, 'demo-fan-none', 'demo-creator');
  assert.ok(afterUpgrade.validUntil.getTime() >= afterRenewal.validUntil.getTime(), 'validUntil kept or extended');

  const before = await snapshot(gw.db);
  const downgrade = await confirm(gw.httpUrl, subscription({ plan: 'basic', amount: 0.05 }));
  assert.equal(downgrade.status, 409);
  assert.deepEqual(await snapshot(gw.db), before, 'a refused downgrade writes nothing');
});

test('cancelling or expiring a subscription revokes open post subscriptions at once', async (t) => {
  const gw = await startGateway(t, { env: sweepingEnv });
  const fan = await gw.connect('demo-fan-basic');
  const otherTab = await gw.connect('demo-fan-basic');
  assert.equal((await subscribe(fan, 'post:demo-post-basic')).type, 'subscribed');
  assert.equal((await subscribe(otherTab, 'post:demo-post-basic')).type, 'subscribed');
  assert.equal((await subscribe(fan, 'post:demo-post-free')).type, 'subscribed');

  const cancelled = await gw.api('/v1/subscriptions/cancel', { userId: 'demo-fan-basic', creatorId: 'demo-creator' });
  assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
  assert.equal(cancelled.body.status, 'cancelled');
  const update = await fan.next('subscription-updated');
  assert.equal(update.data.status, 'cancelled');
  assert.ok(update.data.lockedPostIds.includes('demo-post-basic'));
  for (const socket of [fan, otherTab]) {
    const revoked = await socket.next('unsubscribed');
    assert.deepEqual(revoked.data, { channel: { type: 'post', postId: 'demo-post-basic' }, channelKey: 'post_demo-post-basic', reason: 'access_revoked' });
  }
  await gw.api('/v1/publish', { channel: 'post:demo-post-basic', type: 'post_liked', data: {} });
  await gw.api('/v1/publish', { channel: 'post:demo-post-free', type: 'post_liked', data: {} });
  assert.equal((await fan.next('post_liked')).channel, 'post_demo-post-free', 'the free post stays subscribed');
  assert.deepEqual(await fan.none((f) => f.channel === 'post_demo-post-basic', 300), [], 'no further events of the revoked channel');
  assert.equal((await subscribe(fan, 'post:demo-post-basic')).data.code, 'GW_ERR_CHANNEL_FORBIDDEN');
  const again = await gw.api('/v1/subscriptions/cancel', { userId: 'demo-fan-basic', creatorId: 'demo-creator' });
  assert.equal(again.body.alreadyCancelled, true);
  assert.equal((await gw.api('/v1/subscriptions/cancel', { userId: 'demo-fan-none', creatorId: 'demo-creator' })).status, 404);

  // Expiry: a premium subscription that runs out while the socket is open.
  const premium = await gw.connect('demo-fan-premium');
  assert.equal((await subscribe(premium, 'post:demo-post-premium')).type, 'subscribed');
  const expiresAt = new Date(Date.now() + 1000);
  await gw.db.orm
    .update(subscriptions)
    .set({ validUntil: expiresAt })
    .where(and(eq(subscriptions.userId, 'demo-fan-premium'), eq(subscriptions.creatorId, 'demo-creator')));
  const expired = await premium.next('subscription-updated', 7000);
  const latency = Date.now() - expiresAt.getTime();
  assert.equal(expired.data.status, 'expired');
  assert.ok(latency < 5000, `announced within 5 s of expiry (${latency} ms)`);
  assert.equal((await premium.next('unsubscribed')).data.reason, 'access_revoked');
  assert.deepEqual(await premium.none('subscription-updated', 600), [], 'an expiry is announced once');
});

test('locked reads leak no content or media', async (t) => {
  const gw = await startGateway(t, { env });
  const get = async (path: string, userId?: string) => {
    const res = await fetch(`${gw.httpUrl}${path}`, userId ? { headers: { authorization: `Bearer ${await gw.token(userId)}` } } : {});
    return { status: res.status, body: (await res.json()) as any };
  };
  for (const viewer of [undefined, 'demo-fan-none', 'demo-fan-free']) {
    const { status, body } = await get('/v1/posts/demo-post-priced', viewer);
    assert.equal(status, 200);
    assert.ok(!('content' in body) && !('mediaUrl' in body) && !('thumbnail' in body), `no content for ${viewer}`);
    assert.deepEqual(body.lock, { reason: 'purchase', requiredTier: null, price: 0.1, currency: 'SOL' });
    assert.equal(body.access.hasAccess, false);
  }
  const tier = await get('/v1/posts/demo-post-vip', 'demo-fan-basic');
  assert.equal(tier.body.lock.reason, 'tier');
  assert.equal(tier.body.lock.requiredTier, 'vip');
  const sub = await get('/v1/posts/demo-post-locked', 'demo-fan-free');
  assert.deepEqual(sub.body.lock, { reason: 'subscription', requiredTier: 'basic', price: null, currency: 'SOL' });

  const bought = await get('/v1/posts/demo-post-priced', 'demo-buyer');
  assert.equal(bought.body.access.hasAccess, true);
  assert.equal(typeof bought.body.content, 'string');
  assert.ok(!('lock' in bought.body));

  const list = await get('/v1/creators/demo-creator/posts?limit=100');
  assert.equal(list.status, 200);
  assert.ok(list.body.posts.length >= 9);
  for (const post of list.body.posts) {
    if (post.access.hasAccess) continue;
    assert.ok(!('content' in post) && !('mediaUrl' in post) && !('thumbnail' in post), post.id);
    assert.ok(post.lock, post.id);
  }
  assert.deepEqual(list.body.posts.filter((p: any) => p.access.hasAccess).map((p: any) => p.id), ['demo-post-free'], 'anonymous: only the free post');
  const page = await get('/v1/creators/demo-creator/posts?limit=2', 'demo-fan-vip');
  assert.equal(page.body.posts.length, 2);
  assert.equal(page.body.nextOffset, 2);
  assert.equal((await get('/v1/posts/nope')).status, 404);
  assert.equal((await get('/v1/posts/demo-post-free', 'nobody')).status, 401, 'a token for an unknown user is refused, not anonymous');
  const badToken = await fetch(`${gw.httpUrl}/v1/posts/demo-post-free`, { headers: { authorization: 'Bearer nope' } });
  assert.equal(badToken.status, 401);
});

test('concurrent confirmations: the same signature is applied once; two payments for one pair are serialised', async (t) => {
  const gw = await startGateway(t, { env });
  const buyer = await gw.connect('demo-fan-none');
  const body = purchase();
  const same = await Promise.all(Array.from({ length: 5 }, () => confirm(gw.httpUrl, body)));
  assert.deepEqual(same.map((r) => r.status), [200, 200, 200, 200, 200]);
  assert.equal(same.filter((r) => !r.replayed).length, 1, 'applied once');
  for (const r of same) assert.deepEqual(r.body, same[0]!.body);
  await buyer.next('post-purchased');
  assert.deepEqual(await buyer.none('post-purchased', 400), [], 'one event');

  const rivals = await Promise.all([
    confirm(gw.httpUrl, purchase({ postId: 'demo-post-priced-open', amount: 0.2 })),
    confirm(gw.httpUrl, purchase({ postId: 'demo-post-priced-open', amount: 0.2 })),
  ]);
  assert.deepEqual(rivals.map((r) => r.status).sort(), [200, 409], 'a second payment for a bought post is refused');

  const subs = await Promise.all([confirm(gw.httpUrl, subscription()), confirm(gw.httpUrl, subscription())]);
  assert.deepEqual(subs.map((r) => r.status), [200, 200]);
  assert.deepEqual(subs.map((r) => r.body.change).sort(), ['new', 'renewal'], 'the second payment renews, it does not overwrite');
  const row = await subscriptionRow(gw, 'demo-fan-none', 'demo-creator');
  const months = (row.validUntil.getTime() - Date.now()) / (30 * 86_400_000);
  assert.ok(months > 1.8 && months < 2.2, `two payments, two months (${months.toFixed(2)})`);
});

test('round trips: a new purchase or subscription is begin with the lock, one read, one write, commit; a replay has no write', async (t) => {
  const sent: string[] = [];
  const { db } = await createTestDatabase(t, { logger: { logQuery: (query) => sent.push(query) } });
  await seed(db);
  // On PostgreSQL every query goes through the logger: `begin; select pg_advisory_xact_lock(…)` (one simple query),
  // the reads and writes, `commit`. PGlite opens and ends its transactions itself (unlogged, in-process) and takes the
  // lock as the transaction's first statement.
  const count = async <T>(run: () => Promise<T>) => {
    sent.length = 0;
    const value = await run();
    const locks = sent.filter((q) => q.includes('pg_advisory_xact_lock'));
    const inside = sent.filter((q) => !/^\s*(begin|commit)\b/i.test(q) && !q.includes('pg_advisory_xact_lock'));
    if (db.kind === 'postgres') assert.match(locks[0] ?? '', /^begin; select pg_advisory_xact_lock/, 'the lock goes with begin');
    return { value, locks: locks.length, inside: inside.length, total: sent.length };
  };
  const committed: StoredEvent[][] = [];
  const onCommitted = (events: readonly StoredEvent[]) => committed.push([...events]);
  const body = purchase() as PostPurchaseConfirmation;
  const at = new Date(Date.now() - 1234);

  const first = await count(() => confirmPayment(db.orm, body, { onCommitted, now: at }));
  assert.equal(first.value.replayed, false);
  assert.equal(first.locks, 1);
  assert.equal(first.inside, 2, `a new purchase: one read, one write (sent: ${first.inside})`);
  assert.equal(first.total, db.kind === 'postgres' ? 4 : 3, 'postgres: begin with the lock, read, write, commit');
  assert.deepEqual(committed.flat().map((e) => e.type), ['post-purchased', 'notification']);
  assert.deepEqual(committed.flat().map((e) => e.id), first.value.result.eventIds);
  // The events carry the rows as stored: the notification with the createdAt its column default gave it.
  const [stored] = await db.orm.select().from(notifications).where(eq(notifications.id, (committed[0]![1]!.data as any).notification.id));
  assert.deepEqual((committed[0]![1]!.data as any).notification, { ...stored, createdAt: stored!.createdAt.toISOString() });
  const [bought] = await db.orm.select().from(postPurchases).where(eq(postPurchases.id, first.value.result.purchaseId as string));
  assert.deepEqual(
    { ...bought, id: undefined },
    { id: undefined, postId: body.postId, userId: body.userId, price: 0.1, currency: 'SOL', txSignature: body.txSignature, purchasedAt: at, paymentStatus: 'COMPLETED', platformFee: null, referrerFee: null, creatorAmount: null },
  );
  assert.equal((committed[0]![0]!.data as any).purchaseId, bought!.id);
  const [paid] = await db.orm.select().from(transactions).where(eq(transactions.txSignature, body.txSignature));
  assert.deepEqual(paid, {
    id: first.value.result.transactionId,
    txSignature: body.txSignature,
    fromWallet: 'BuyerWallet111',
    toWallet: 'CreatorWallet111',
    amount: 0.1,
    currency: 'SOL',
    type: 'POST_PURCHASE',
    status: 'CONFIRMED',
    metadata: { postId: body.postId, purchaseId: bought!.id },
    confirmedAt: at,
    subscriptionId: null,
    postPurchaseId: bought!.id,
    senderId: body.userId,
    receiverId: 'demo-creator',
    createdAt: at,
    updatedAt: at,
  });

  const replay = await count(() => confirmPayment(db.orm, body, { onCommitted }));
  assert.equal(replay.value.replayed, true);
  assert.deepEqual(replay.value.result, first.value.result);
  assert.equal(replay.inside, 1, `a replay: the read (sent: ${replay.inside})`);
  assert.equal(replay.total, db.kind === 'postgres' ? 3 : 2);

  // A subscription: the same three; its subscription-updated event splits the creator's posts as a read after the
  // commit does (the new subscription, and the post the buyer bought above).
  const now = new Date();
  const subBody = subscription() as SubscriptionConfirmation;
  committed.length = 0;
  const sub = await count(() => confirmPayment(db.orm, subBody, { onCommitted, now }));
  assert.equal(sub.value.result.change, 'new');
  assert.equal(sub.inside, 2, `a subscription: one read, one write (sent: ${sub.inside})`);
  assert.equal(sub.total, db.kind === 'postgres' ? 4 : 3);
  assert.deepEqual(committed.flat().map((e) => e.type), ['subscription-updated', 'new_subscription', 'notification']);
  const updated = committed[0]![0]!.data as any;
  const partition = await creatorPostPartition(db.orm, subBody.userId, subBody.creatorId, now);
  assert.deepEqual({ unlockedPostIds: updated.unlockedPostIds, lockedPostIds: updated.lockedPostIds }, partition);
  assert.ok(partition.unlockedPostIds.includes('demo-post-priced') && partition.unlockedPostIds.includes('demo-post-basic'));
  assert.ok(partition.lockedPostIds.includes('demo-post-premium'));
  const [note] = await db.orm.select().from(notifications).where(eq(notifications.id, (committed[0]![2]!.data as any).notification.id));
  assert.deepEqual((committed[0]![2]!.data as any).notification, { ...note, createdAt: note!.createdAt.toISOString() });
  const subReplay = await count(() => confirmPayment(db.orm, subBody, { onCommitted }));
  assert.equal(subReplay.value.replayed, true);
  assert.deepEqual(subReplay.value.result, sub.value.result);
  assert.equal(subReplay.inside, 1);

  // With PostgreSQL the key is an escaped literal in the begin query: quotes and backslashes name the same lock as
  // the key as a parameter does, and a confirmation waits for whoever holds it.
  const odd = purchase({ userId: `o'bri\\en"x` }) as PostPurchaseConfirmation;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const lockTaken = new Promise<void>((resolve) => (locked = resolve));
  const holder = db.orm.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`post_purchase:${odd.userId}:${odd.postId}`}, 0))`);
    locked();
    await held;
  });
  await lockTaken;
  let settled = false;
  const waiting = confirmPayment(db.orm, odd).finally(() => (settled = true));
  waiting.catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(settled, false, 'the confirmation waits for the lock');
  release();
  await holder;
  await assert.rejects(waiting, (err: any) => err.code === 'GW_ERR_PAYMENT_INVALID' && err.field === 'userId');
});

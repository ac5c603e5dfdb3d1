import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eq, sql } from 'drizzle-orm';
import { queryRows, type Database } from '../src/db/client.ts';
import { seed } from '../src/db/seed.ts';
import { creatorTierSettings, notifications, postPurchases, posts, subscriptions, users } from '../src/db/schema.ts';
import { createTestDatabase } from './helpers/database.ts';

const PLATFORM_TABLES = ['users', 'posts', 'subscriptions', 'post_purchases', 'transactions', 'notifications', 'creator_tier_settings'];

/** Every row of every platform table, as JSON text, so that two dumps compare exactly. */
async function dumpPlatform(db: Database): Promise<Record<string, string[]>> {
  const dump: Record<string, string[]> = {};
  for (const table of PLATFORM_TABLES) {
    const rows = await queryRows<{ row: string }>(db.orm, sql.raw(`select row_to_json(t)::text as row from "${table}" t order by id`));
    dump[table] = rows.map((r) => r.row);
  }
  return dump;
}

test('seed writes the demo world: users, posts, subscriptions, the purchase, tier settings, notifications', async (t) => {
  const { db } = await createTestDatabase(t);
  const now = new Date();
  const world = await seed(db, now);

  assert.deepEqual(world.creators, ['demo-creator', 'demo-creator-2']);
  assert.equal(world.fans.vip, 'demo-fan-vip');
  assert.equal(world.users.creator, 'demo-creator');
  assert.equal(world.posts.tierPriced, 'demo-post-tier-priced');

  const allUsers = await db.orm.select().from(users);
  assert.equal(allUsers.length, 9);
  assert.deepEqual(allUsers.map((u) => u.id).sort(), Object.values(world.users).sort());
  assert.equal(new Set(allUsers.map((u) => u.wallet)).size, allUsers.length, 'every user has a unique wallet');
  const creator = allUsers.find((u) => u.id === 'demo-creator');
  assert.equal(creator?.isCreator, true);
  assert.equal(creator?.nickname, 'demo_creator');
  assert.equal(allUsers.find((u) => u.id === 'demo-creator-2')?.isCreator, true);
  assert.ok(allUsers.filter((u) => u.id.startsWith('demo-fan') || u.id === 'demo-buyer').every((u) => !u.isCreator));

  const allPosts = await db.orm.select().from(posts);
  assert.deepEqual(allPosts.map((p) => p.id).sort(), Object.values(world.posts).sort());
  assert.ok(allPosts.every((p) => p.creatorId === 'demo-creator' && p.title && p.content));
  const post = (id: string) => allPosts.find((p) => p.id === id)!;
  assert.equal(post('demo-post-free').isLocked, false);
  assert.equal(post('demo-post-free').price, null);
  assert.deepEqual([post('demo-post-locked').isLocked, post('demo-post-locked').price, post('demo-post-locked').minSubscriptionTier], [true, null, null]);
  assert.deepEqual([post('demo-post-priced').price, post('demo-post-priced').isLocked], [0.1, true]);
  assert.deepEqual([post('demo-post-priced-open').price, post('demo-post-priced-open').isLocked], [0.2, false]);
  assert.equal(post('demo-post-basic').minSubscriptionTier, 'basic');
  assert.equal(post('demo-post-premium').minSubscriptionTier, 'Premium');
  assert.equal(post('demo-post-vip').minSubscriptionTier, 'VIP');
  assert.equal(post('demo-post-legacy-vip').isPremium, true);
  assert.deepEqual([post('demo-post-tier-priced').minSubscriptionTier, post('demo-post-tier-priced').price], ['premium', 0.3]);
  for (const p of allPosts) {
    assert.ok(p.type === 'text' || p.type === 'image');
    if (p.type === 'image') assert.equal(p.mediaUrl, `/media/demo/${p.id}.jpg`);
  }

  const subs = await db.orm.select().from(subscriptions);
  const plan = (userId: string) => subs.find((s) => s.userId === userId);
  assert.deepEqual(
    ['demo-fan-free', 'demo-fan-basic', 'demo-fan-premium', 'demo-fan-vip', 'demo-fan-expired'].map((u) => plan(u)?.plan),
    ['Free', 'Basic', 'premium', 'VIP', 'premium'],
  );
  assert.equal(plan('demo-fan-none'), undefined);
  assert.equal(plan('demo-buyer'), undefined);
  assert.ok(subs.every((s) => s.creatorId === 'demo-creator' && s.isActive && s.paymentStatus === 'COMPLETED'));
  for (const s of subs.filter((s) => s.userId !== 'demo-fan-expired')) {
    assert.equal(s.validUntil.getTime(), now.getTime() + 30 * 24 * 3600 * 1000);
  }
  assert.ok(plan('demo-fan-expired')!.validUntil < now);

  const [purchase, ...otherPurchases] = await db.orm.select().from(postPurchases);
  assert.deepEqual(otherPurchases, []);
  assert.deepEqual([purchase?.userId, purchase?.postId, purchase?.paymentStatus, purchase?.price], ['demo-buyer', 'demo-post-priced', 'COMPLETED', 0.1]);

  const tiers = await db.orm.select().from(creatorTierSettings);
  assert.deepEqual(tiers.map((r) => r.creatorId), ['demo-creator']);
  const offer = (json: unknown) => [(json as { enabled: boolean }).enabled, (json as { price: number }).price];
  assert.deepEqual([offer(tiers[0]!.basicTier), offer(tiers[0]!.premiumTier), offer(tiers[0]!.vipTier)], [[true, 0.05], [true, 0.2], [true, 0.5]]);

  const inbox = await db.orm.select().from(notifications).where(eq(notifications.userId, 'demo-creator'));
  assert.equal(inbox.length, 3);
  assert.equal(inbox.filter((n) => !n.isRead).length, 2);
});

test('a second seed run changes nothing, even with a later `now`', async (t) => {
  const { db } = await createTestDatabase(t);
  await seed(db, new Date('2030-01-01T00:00:00Z'));
  const first = await dumpPlatform(db);
  assert.equal(first.users?.length, 9);

  const world = await seed(db, new Date('2030-02-01T00:00:00Z'));
  assert.deepEqual(await dumpPlatform(db), first);
  assert.equal(world.fans.expired, 'demo-fan-expired');
});

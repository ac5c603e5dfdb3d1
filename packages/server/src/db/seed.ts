/**
 * The demo world: two creators, a fan per access level, one post per access rule, tier prices and a few
 * notifications. Fixed ids, so tokens minted for them stay valid across runs and tests can name them.
 */
import type { Database } from './client.ts';
import { creatorTierSettings, notifications, postPurchases, posts, subscriptions, users } from './schema.ts';

/** Who is who in the demo world, for a CLI to print and tests to look up. Every value is a row id. */
export interface DemoWorld {
  /** The creators' user ids; the first owns every demo post and has tier settings, the second has neither. */
  creators: string[];
  /** Label → user id of the users who are not creators (`none`, `free`, `basic`, `premium`, `vip`, `expired`, `buyer`). */
  fans: Record<string, string>;
  /** Label → user id of every demo user (creators and fans), in a stable order. */
  users: Record<string, string>;
  /** Label → post id (`free`, `locked`, `priced`, `pricedOpen`, `basic`, `premium`, `vip`, `legacyVip`, `tierPriced`). */
  posts: Record<string, string>;
}

const DAY_MS = 24 * 3600 * 1000;
const CREATOR = 'demo-creator';
const CREATOR_2 = 'demo-creator-2';

/** Fans and the plan of their subscription to demo-creator (null: none). Plans are spelt as the platform stores them. */
const FANS: ReadonlyArray<{ label: string; id: string; plan: string | null; expired?: true }> = [
  { label: 'none', id: 'demo-fan-none', plan: null },
  { label: 'free', id: 'demo-fan-free', plan: 'Free' },
  { label: 'basic', id: 'demo-fan-basic', plan: 'Basic' },
  { label: 'premium', id: 'demo-fan-premium', plan: 'premium' },
  { label: 'vip', id: 'demo-fan-vip', plan: 'VIP' },
  { label: 'expired', id: 'demo-fan-expired', plan: 'premium', expired: true },
  { label: 'buyer', id: 'demo-buyer', plan: null },
];
const PLAN_PRICES: Readonly<Record<string, number>> = { free: 0, basic: 0.05, premium: 0.2, vip: 0.5 };

const POSTS: ReadonlyArray<{
  label: string;
  id: string;
  title: string;
  type: 'text' | 'image';
  isLocked?: boolean;
  isPremium?: boolean;
  price?: number;
  minSubscriptionTier?: string;
}> = [
  { label: 'free', id: 'demo-post-free', title: 'Hello, everyone', type: 'text' },
  { label: 'locked', id: 'demo-post-locked', title: 'For subscribers', type: 'image', isLocked: true },
  { label: 'priced', id: 'demo-post-priced', title: 'Pay per post', type: 'image', isLocked: true, price: 0.1 },
  { label: 'pricedOpen', id: 'demo-post-priced-open', title: 'Priced but open', type: 'image', price: 0.2 },
  { label: 'basic', id: 'demo-post-basic', title: 'Basic tier', type: 'text', isLocked: true, minSubscriptionTier: 'basic' },
  { label: 'premium', id: 'demo-post-premium', title: 'Premium tier', type: 'image', isLocked: true, minSubscriptionTier: 'Premium' },
  { label: 'vip', id: 'demo-post-vip', title: 'VIP tier', type: 'image', isLocked: true, minSubscriptionTier: 'VIP' },
  { label: 'legacyVip', id: 'demo-post-legacy-vip', title: 'Legacy premium (VIP)', type: 'text', isLocked: true, isPremium: true },
  {
    label: 'tierPriced',
    id: 'demo-post-tier-priced',
    title: 'Premium tier with a price',
    type: 'image',
    isLocked: true,
    price: 0.3,
    minSubscriptionTier: 'premium',
  },
];

/**
 * Writes the demo world in one transaction and returns who is who. Idempotent: every row has a fixed id and is
 * inserted with ON CONFLICT DO NOTHING, so a second run changes nothing (not even timestamps). `now` anchors the
 * timestamps of a first run: effective subscriptions are valid until now + 30 days, demo-fan-expired's ended a day ago.
 */
export async function seed(db: Database, now = new Date()): Promise<DemoWorld> {
  const at = (offsetMs: number) => new Date(now.getTime() + offsetMs);
  const world: DemoWorld = {
    creators: [CREATOR, CREATOR_2],
    fans: Object.fromEntries(FANS.map((f) => [f.label, f.id])),
    users: { creator: CREATOR, creator2: CREATOR_2, ...Object.fromEntries(FANS.map((f) => [f.label, f.id])) },
    posts: Object.fromEntries(POSTS.map((p) => [p.label, p.id])),
  };
  await db.orm.transaction(async (tx) => {
    await tx
      .insert(users)
      .values([
        demoUser(CREATOR, 'demo_creator', 'Demo Creator', true, now),
        demoUser(CREATOR_2, 'demo_creator_2', 'Second Demo Creator', true, now),
        ...FANS.map((f) => demoUser(f.id, f.id.replaceAll('-', '_'), `Demo ${f.label}`, false, now)),
      ])
      .onConflictDoNothing();

    await tx
      .insert(posts)
      .values(
        POSTS.map((p, i) => ({
          id: p.id,
          creatorId: CREATOR,
          title: p.title,
          content: `${p.title}: the full text of ${p.id}, shown only to those who may see it.`,
          type: p.type,
          ...(p.type === 'image' ? { mediaUrl: `/media/demo/${p.id}.jpg`, thumbnail: `/media/demo/${p.id}.thumb.jpg` } : {}),
          isLocked: p.isLocked ?? false,
          isPremium: p.isPremium ?? false,
          price: p.price ?? null,
          minSubscriptionTier: p.minSubscriptionTier ?? null,
          // Oldest first in list order, a minute apart, so feeds sort the same way every run.
          createdAt: at((i - POSTS.length) * 60_000),
          updatedAt: now,
        })),
      )
      .onConflictDoNothing();

    await tx
      .insert(subscriptions)
      .values(
        FANS.filter((f) => f.plan !== null).map((f) => ({
          id: `demo-sub-${f.label}`,
          userId: f.id,
          creatorId: CREATOR,
          plan: f.plan!,
          price: PLAN_PRICES[f.plan!.toLowerCase()]!,
          subscribedAt: at(f.expired ? -31 * DAY_MS : 0),
          validUntil: at(f.expired ? -DAY_MS : 30 * DAY_MS),
          isActive: true,
          txSignature: f.plan === 'Free' ? null : `demo-tx-sub-${f.label}`,
          paymentStatus: 'COMPLETED' as const,
        })),
      )
      .onConflictDoNothing();

    await tx
      .insert(postPurchases)
      .values({
        id: 'demo-purchase-priced',
        postId: 'demo-post-priced',
        userId: 'demo-buyer',
        price: 0.1,
        txSignature: 'demo-tx-purchase-priced',
        purchasedAt: at(-DAY_MS),
        paymentStatus: 'COMPLETED',
      })
      .onConflictDoNothing();

    await tx
      .insert(creatorTierSettings)
      .values({
        id: 'demo-tier-settings',
        creatorId: CREATOR,
        basicTier: tierOffer(0.05, 'Basic: the members-only posts'),
        premiumTier: tierOffer(0.2, 'Premium: basic and premium posts'),
        vipTier: tierOffer(0.5, 'VIP: everything'),
      })
      .onConflictDoNothing();

    await tx
      .insert(notifications)
      .values([
        {
          id: 'demo-notification-subscriber',
          userId: CREATOR,
          type: 'NEW_SUBSCRIBER',
          title: 'New subscriber',
          message: 'demo_fan_vip subscribed to VIP',
          metadata: { subscriberId: 'demo-fan-vip', plan: 'VIP' },
          createdAt: at(-2 * 60_000),
        },
        {
          id: 'demo-notification-purchase',
          userId: CREATOR,
          type: 'POST_PURCHASE',
          title: 'Post purchased',
          message: 'demo_buyer bought "Pay per post" for 0.1 SOL',
          metadata: { postId: 'demo-post-priced', buyerId: 'demo-buyer', amount: 0.1 },
          createdAt: at(-60_000),
        },
        {
          id: 'demo-notification-welcome',
          userId: CREATOR,
          type: 'SYSTEM_ANNOUNCEMENT',
          title: 'Welcome',
          message: 'Your creator page is live',
          isRead: true,
          createdAt: at(-DAY_MS),
        },
      ])
      .onConflictDoNothing();
  });
  return world;
}

function demoUser(id: string, nickname: string, fullName: string, isCreator: boolean, now: Date) {
  const wallet = `DemoWallet-${id}`;
  return { id, wallet, solanaWallet: wallet, nickname, fullName, isCreator, createdAt: now, updatedAt: now };
}

function tierOffer(price: number, description: string) {
  return { enabled: true, price, description, features: [{ id: 'posts', text: description, enabled: true }] };
}

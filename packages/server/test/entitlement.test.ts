import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  canSeePost, decidePostAccess, effectiveTier, isEffectiveSubscription, isPriced, requiredTier,
  type AccessDecision, type PostAccessInput, type PostLock, type SubscriptionFacts, type ViewerFacts,
} from '../src/domain/index.ts';

const NOW = new Date('2025-03-10T12:00:00.000Z');
const LATER = new Date('2025-04-01T00:00:00.000Z');
const EARLIER = new Date('2025-03-10T11:59:59.999Z');
const CREATOR = 'creator-1';

// ---- the matrix: viewers ------------------------------------------------------------------------------------------

type SubState = 'none' | 'free' | 'basic' | 'premium' | 'vip' | 'inactive' | 'pending' | 'expired' | 'gold';

/** Stored plan names in the mixed case the platform writes; the non-effective rows all carry the top plan. */
const SUBSCRIPTIONS: Record<SubState, SubscriptionFacts | null> = {
  none: null,
  free: { plan: 'Free', isActive: true, paymentStatus: 'COMPLETED', validUntil: LATER },
  basic: { plan: 'basic', isActive: true, paymentStatus: 'COMPLETED', validUntil: LATER },
  premium: { plan: 'Premium', isActive: true, paymentStatus: 'COMPLETED', validUntil: LATER },
  vip: { plan: 'VIP', isActive: true, paymentStatus: 'COMPLETED', validUntil: LATER },
  inactive: { plan: 'VIP', isActive: false, paymentStatus: 'COMPLETED', validUntil: LATER },
  pending: { plan: 'VIP', isActive: true, paymentStatus: 'PENDING', validUntil: LATER },
  expired: { plan: 'VIP', isActive: true, paymentStatus: 'COMPLETED', validUntil: EARLIER },
  gold: { plan: 'gold', isActive: true, paymentStatus: 'COMPLETED', validUntil: LATER },
};
const SUB_STATES = Object.keys(SUBSCRIPTIONS) as SubState[];

type Identity = 'author' | 'other' | 'anonymous';
const USER_IDS: Record<Identity, string | null> = { author: CREATOR, other: 'viewer-1', anonymous: null };
const IDENTITIES = Object.keys(USER_IDS) as Identity[];

// ---- the matrix: posts and what unlocks each, written out by hand ------------------------------------------------

/** A posts row as the platform has it; isSellable is carried along to show it plays no role. */
type PostRow = PostAccessInput & { isSellable: boolean };
const post = (fields: Partial<PostRow>): PostRow => ({
  creatorId: CREATOR, isLocked: false, isPremium: false, price: null, currency: 'SOL', minSubscriptionTier: null,
  isSellable: false, ...fields,
});

interface Expectation {
  post: PostRow;
  /** Everyone sees it (rule 5, unlocked). */
  open: boolean;
  /** Subscription states that unlock it for a viewer who is neither author nor buyer. */
  unlockedBy: SubState[];
  /** The lock everyone else gets (null for an open post). */
  lock: PostLock | null;
}

const PAID: SubState[] = ['basic', 'premium', 'vip'];
const tierLock = (requiredTier: PostLock['requiredTier'], price: number | null = null, currency = 'SOL'): PostLock =>
  ({ reason: 'tier', requiredTier, price, currency });
const purchaseLock = (price: number, currency = 'SOL'): PostLock => ({ reason: 'purchase', requiredTier: null, price, currency });
const SUBSCRIPTION_LOCK: PostLock = { reason: 'subscription', requiredTier: 'basic', price: null, currency: 'SOL' };

const EXPECTED: Record<string, Expectation> = {
  'free': { post: post({}), open: true, unlockedBy: [], lock: null },
  'locked': { post: post({ isLocked: true }), open: false, unlockedBy: PAID, lock: SUBSCRIPTION_LOCK },
  'priced, unlocked': { post: post({ price: 0.1 }), open: false, unlockedBy: [], lock: purchaseLock(0.1) },
  'priced, locked': { post: post({ isLocked: true, price: 0.2, currency: 'USDC' }), open: false, unlockedBy: [], lock: purchaseLock(0.2, 'USDC') },
  'priced, sellable': { post: post({ isLocked: true, price: 0.3, isSellable: true }), open: false, unlockedBy: [], lock: purchaseLock(0.3) },
  'locked, sellable, no price': { post: post({ isLocked: true, isSellable: true }), open: false, unlockedBy: PAID, lock: SUBSCRIPTION_LOCK },
  'tier Basic': { post: post({ isLocked: true, minSubscriptionTier: 'Basic' }), open: false, unlockedBy: PAID, lock: tierLock('basic') },
  'tier PREMIUM, not isLocked': { post: post({ minSubscriptionTier: 'PREMIUM' }), open: false, unlockedBy: ['premium', 'vip'], lock: tierLock('premium') },
  'tier " vIp "': { post: post({ isLocked: true, minSubscriptionTier: ' vIp ' }), open: false, unlockedBy: ['vip'], lock: tierLock('vip') },
  'tier Free': { post: post({ isLocked: true, minSubscriptionTier: 'Free' }), open: false, unlockedBy: ['free', 'basic', 'premium', 'vip'], lock: tierLock('free') },
  'legacy isPremium': { post: post({ isLocked: true, isPremium: true }), open: false, unlockedBy: ['vip'], lock: tierLock('vip') },
  'legacy isPremium, not isLocked': { post: post({ isPremium: true }), open: false, unlockedBy: ['vip'], lock: tierLock('vip') },
  'tier overrides isPremium': { post: post({ isLocked: true, isPremium: true, minSubscriptionTier: 'basic' }), open: false, unlockedBy: PAID, lock: tierLock('basic') },
  'tier premium + price': { post: post({ isLocked: true, minSubscriptionTier: 'premium', price: 0.25 }), open: false, unlockedBy: ['premium', 'vip'], lock: tierLock('premium', 0.25) },
  'unknown tier gold': { post: post({ isLocked: true, minSubscriptionTier: 'gold' }), open: false, unlockedBy: [], lock: tierLock(null) },
  'unknown tier gold + price': { post: post({ minSubscriptionTier: 'gold', price: 0.4 }), open: false, unlockedBy: [], lock: tierLock(null, 0.4) },
  'blank tier, locked': { post: post({ isLocked: true, minSubscriptionTier: '' }), open: false, unlockedBy: PAID, lock: SUBSCRIPTION_LOCK },
  'blank tier, unlocked': { post: post({ minSubscriptionTier: '' }), open: true, unlockedBy: [], lock: null },
  'whitespace tier + isPremium': { post: post({ isLocked: true, isPremium: true, minSubscriptionTier: '   ' }), open: false, unlockedBy: ['vip'], lock: tierLock('vip') },
  'whitespace tier + price': { post: post({ minSubscriptionTier: ' ', price: 0.05 }), open: false, unlockedBy: [], lock: purchaseLock(0.05) },
};

function expectedDecision(e: Expectation, identity: Identity, purchased: boolean, sub: SubState): AccessDecision {
  if (identity === 'author') return { allowed: true, via: 'author' };
  if (purchased) return { allowed: true, via: 'purchase' };
  if (e.open) return { allowed: true, via: 'free' };
  if (e.unlockedBy.includes(sub)) return { allowed: true, via: 'subscription' };
  assert.ok(e.lock, 'a post that is not open has a lock');
  return { allowed: false, lock: e.lock };
}

let cases = 0;
for (const [name, e] of Object.entries(EXPECTED)) {
  test(`matrix: ${name}`, () => {
    for (const identity of IDENTITIES) {
      for (const purchased of [false, true]) {
        for (const sub of SUB_STATES) {
          const viewer: ViewerFacts = { userId: USER_IDS[identity], hasCompletedPurchase: purchased, subscription: SUBSCRIPTIONS[sub] };
          const expected = expectedDecision(e, identity, purchased, sub);
          const label = `${name} / ${identity} / purchased=${purchased} / sub=${sub}`;
          assert.deepEqual(decidePostAccess(e.post, viewer, NOW), expected, label);
          assert.equal(canSeePost(e.post, viewer, NOW), expected.allowed, label);
          cases++;
        }
      }
    }
  });
}

test('the matrix covered every combination', () => {
  assert.equal(cases, Object.keys(EXPECTED).length * IDENTITIES.length * 2 * SUB_STATES.length);
  assert.equal(SUB_STATES.length, 9);
});

// ---- the parts -----------------------------------------------------------------------------------------------------

test('an effective subscription is active, COMPLETED and ends strictly after now', () => {
  const base: SubscriptionFacts = { plan: 'basic', isActive: true, paymentStatus: 'COMPLETED', validUntil: LATER };
  assert.equal(isEffectiveSubscription(base, NOW), true);
  assert.equal(isEffectiveSubscription(null, NOW), false);
  assert.equal(isEffectiveSubscription({ ...base, isActive: false }, NOW), false);
  for (const paymentStatus of ['PENDING', 'FAILED', 'completed', '']) {
    assert.equal(isEffectiveSubscription({ ...base, paymentStatus }, NOW), false, paymentStatus);
  }
  assert.equal(isEffectiveSubscription({ ...base, validUntil: new Date(NOW.getTime()) }, NOW), false, 'ends exactly now');
  assert.equal(isEffectiveSubscription({ ...base, validUntil: new Date(NOW.getTime() + 1) }, NOW), true, 'ends 1 ms later');
  assert.equal(isEffectiveSubscription({ ...base, validUntil: new Date(Number.NaN) }, NOW), false, 'invalid date');
  assert.equal(isEffectiveSubscription({ ...base, plan: 'gold' }, NOW), true, 'effectiveness does not depend on the plan');
});

test('effectiveTier is the normalized plan of an effective subscription', () => {
  const expected: Record<SubState, string | null> = {
    none: null, free: 'free', basic: 'basic', premium: 'premium', vip: 'vip',
    inactive: null, pending: null, expired: null, gold: null,
  };
  for (const sub of SUB_STATES) assert.equal(effectiveTier(SUBSCRIPTIONS[sub], NOW), expected[sub], sub);
});

test('requiredTier: the named tier, else vip for isPremium, else none; unknown names fail closed', () => {
  const cases: Array<[Partial<PostRow>, string | null]> = [
    [{}, null],
    [{ isPremium: true }, 'vip'],
    [{ minSubscriptionTier: 'Basic' }, 'basic'],
    [{ minSubscriptionTier: ' PREMIUM ' }, 'premium'],
    [{ minSubscriptionTier: 'basic', isPremium: true }, 'basic'],
    [{ minSubscriptionTier: 'free' }, 'free'],
    [{ minSubscriptionTier: 'gold' }, 'unknown'],
    [{ minSubscriptionTier: 'gold', isPremium: true }, 'unknown'],
    [{ minSubscriptionTier: '' }, null],
    [{ minSubscriptionTier: ' \t' }, null],
    [{ minSubscriptionTier: '', isPremium: true }, 'vip'],
  ];
  for (const [fields, expected] of cases) assert.equal(requiredTier(post(fields)), expected, JSON.stringify(fields));
});

test('isPriced: a finite price above 0', () => {
  for (const [price, expected] of [[0.01, true], [5, true], [0, false], [-1, false], [null, false],
    [Number.NaN, false], [Number.POSITIVE_INFINITY, false]] as const) {
    assert.equal(isPriced({ price }), expected, String(price));
  }
});

test('a null userId is never the author, even of a post with an empty creatorId', () => {
  const viewer: ViewerFacts = { userId: null, hasCompletedPurchase: false, subscription: null };
  assert.deepEqual(decidePostAccess(post({ creatorId: '', isLocked: true }), viewer, NOW), { allowed: false, lock: SUBSCRIPTION_LOCK });
});

test('a post with a non-finite price is not priced, so it is not sold', () => {
  const viewer: ViewerFacts = { userId: 'viewer-1', hasCompletedPurchase: false, subscription: null };
  assert.deepEqual(decidePostAccess(post({ price: Number.NaN }), viewer, NOW), { allowed: true, via: 'free' });
  assert.deepEqual(decidePostAccess(post({ minSubscriptionTier: 'vip', price: 0 }), viewer, NOW), { allowed: false, lock: tierLock('vip') });
});

test('the decision depends on now: a subscription stops unlocking the moment it ends', () => {
  const viewer: ViewerFacts = { userId: 'viewer-1', hasCompletedPurchase: false, subscription: SUBSCRIPTIONS.basic };
  const locked = post({ isLocked: true });
  assert.equal(canSeePost(locked, viewer, new Date(LATER.getTime() - 1)), true);
  assert.equal(canSeePost(locked, viewer, LATER), false);
});

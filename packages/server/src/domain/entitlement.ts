/**
 * The one entitlement policy: whether a viewer may see a post's content. The WebSocket ACL, the HTTP API and
 * event fan-out all decide through {@link decidePostAccess}; docs/access.md is the same policy as a table.
 */
import { normalizeTier, TIER_RANK, tierRank, type Tier } from './tiers.ts';

/** The columns of a `posts` row the policy reads. `minSubscriptionTier` is free text as stored (any case, maybe blank). */
export interface PostAccessInput {
  creatorId: string;
  isLocked: boolean;
  /** Legacy flag: means "requires vip" when `minSubscriptionTier` is absent. */
  isPremium: boolean;
  price: number | null;
  currency: string;
  minSubscriptionTier: string | null;
}

/** The columns of a `subscriptions` row the policy reads. `plan` is free text as stored ('VIP', 'Free', ...). */
export interface SubscriptionFacts {
  plan: string;
  isActive: boolean;
  paymentStatus: string;
  validUntil: Date;
}

/** What the policy needs to know about one viewer and one post's creator. */
export interface ViewerFacts {
  /** null for an anonymous viewer, who is never the author. */
  userId: string | null;
  /** The viewer has a COMPLETED purchase of this post. */
  hasCompletedPurchase: boolean;
  /** The viewer's subscription row for the post's creator, if any (effective or not). */
  subscription: SubscriptionFacts | null;
}

/**
 * Why a post is locked and what would unlock it; the only thing a locked post reveals about its content.
 * `tier`: a subscription of `requiredTier` or higher (null when the post names an unknown tier, which nothing satisfies),
 * or buying it when `price` is set. `purchase`: buying it for `price`. `subscription`: any paid tier (`requiredTier` 'basic').
 */
export interface PostLock {
  reason: 'tier' | 'purchase' | 'subscription';
  requiredTier: Tier | null;
  price: number | null;
  currency: string;
}

/** The policy's answer: which rule granted access, or the lock to show instead of the content. */
export type AccessDecision =
  | { allowed: true; via: 'author' | 'purchase' | 'subscription' | 'free' }
  | { allowed: false; lock: PostLock };

/** True when the subscription counts: active, paymentStatus 'COMPLETED' and `validUntil` strictly after `now`. */
export function isEffectiveSubscription(sub: SubscriptionFacts | null, now: Date): boolean {
  return sub !== null && sub.isActive && sub.paymentStatus === 'COMPLETED' && sub.validUntil.getTime() > now.getTime();
}

/** The tier an effective subscription grants; null when there is none or its plan name is unknown. */
export function effectiveTier(sub: SubscriptionFacts | null, now: Date): Tier | null {
  return isEffectiveSubscription(sub, now) ? normalizeTier(sub?.plan) : null;
}

/**
 * The tier a post requires: `minSubscriptionTier` normalized, else 'vip' for a legacy `isPremium` post, else null.
 * A blank `minSubscriptionTier` counts as absent; any other unrecognised value is 'unknown', which no subscription satisfies.
 */
export function requiredTier(post: PostAccessInput): Tier | 'unknown' | null {
  const raw = post.minSubscriptionTier;
  if (raw !== null && raw.trim() !== '') return normalizeTier(raw) ?? 'unknown';
  return post.isPremium ? 'vip' : null;
}

/** True when the post has a price that can be paid: a finite number above 0. */
export function isPriced(post: Pick<PostAccessInput, 'price'>): boolean {
  return typeof post.price === 'number' && Number.isFinite(post.price) && post.price > 0;
}

/**
 * Decides whether `viewer` may see `post`'s content at `now`. Rules in order, the first that grants wins:
 * author; completed purchase; for a tier-gated post an effective subscription ranking at least the required tier;
 * for a priced post without a tier nothing else; otherwise an unlocked post is free and a locked one needs an
 * effective subscription ranking at least basic.
 */
export function decidePostAccess(post: PostAccessInput, viewer: ViewerFacts, now: Date): AccessDecision {
  if (viewer.userId !== null && viewer.userId === post.creatorId) return { allowed: true, via: 'author' };
  if (viewer.hasCompletedPurchase) return { allowed: true, via: 'purchase' };

  const { currency } = post;
  const rank = tierRank(effectiveTier(viewer.subscription, now));
  const required = requiredTier(post);
  if (required !== null) {
    if (required !== 'unknown' && rank >= TIER_RANK[required]) return { allowed: true, via: 'subscription' };
    const price = isPriced(post) ? post.price : null;
    return { allowed: false, lock: { reason: 'tier', requiredTier: required === 'unknown' ? null : required, price, currency } };
  }
  if (isPriced(post)) return { allowed: false, lock: { reason: 'purchase', requiredTier: null, price: post.price, currency } };
  if (!post.isLocked) return { allowed: true, via: 'free' };
  if (rank >= TIER_RANK.basic) return { allowed: true, via: 'subscription' };
  return { allowed: false, lock: { reason: 'subscription', requiredTier: 'basic', price: null, currency } };
}

/** {@link decidePostAccess} reduced to yes or no. */
export function canSeePost(post: PostAccessInput, viewer: ViewerFacts, now: Date): boolean {
  return decidePostAccess(post, viewer, now).allowed;
}

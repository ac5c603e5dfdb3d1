/** The pure domain layer: tiers, the entitlement policy, pricing and subscription changes. No I/O. */
export { DEFAULT_TIER_PRICES, normalizeTier, PaidTiers, TIER_RANK, tierRank, Tiers } from './tiers.ts';
export type { PaidTier, Tier } from './tiers.ts';
export { canSeePost, decidePostAccess, effectiveTier, isEffectiveSubscription, isPriced, requiredTier } from './entitlement.ts';
export type { AccessDecision, PostAccessInput, PostLock, SubscriptionFacts, ViewerFacts } from './entitlement.ts';
export { amountsMatch, tierPrice, toLamports } from './pricing.ts';
export type { TierSettingsColumns } from './pricing.ts';
export { addOneMonth, planSubscriptionChange } from './subscription-change.ts';
export type { SubscriptionChange } from './subscription-change.ts';

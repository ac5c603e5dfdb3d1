/**
 * Subscription tiers and their ranks. This is the only copy of the tier hierarchy in the project:
 * every comparison of plans goes through {@link tierRank}.
 */

/** Every tier, lowest first. `free` exists as a plan name but is never sold. */
export const Tiers = ['free', 'basic', 'premium', 'vip'] as const;
export type Tier = (typeof Tiers)[number];

/** The tiers a creator sells (one row each in `creator_tier_settings`). */
export const PaidTiers = ['basic', 'premium', 'vip'] as const;
export type PaidTier = (typeof PaidTiers)[number];

/** Rank of each tier; a higher rank includes everything a lower one unlocks. */
export const TIER_RANK: Readonly<Record<Tier, number>> = Object.freeze({ free: 1, basic: 2, premium: 3, vip: 4 });

/** Price of each paid tier in SOL when the creator has not set one. */
export const DEFAULT_TIER_PRICES: Readonly<Record<PaidTier, number>> = Object.freeze({ basic: 0.05, premium: 0.15, vip: 0.35 });

/**
 * Maps a stored plan name to a tier, ignoring case and surrounding whitespace ('VIP', ' premium ' → 'vip', 'premium').
 * Returns null for anything else: unknown names, blank strings and non-strings.
 */
export function normalizeTier(name: unknown): Tier | null {
  if (typeof name !== 'string') return null;
  const key = name.trim().toLowerCase();
  return (Tiers as readonly string[]).includes(key) ? (key as Tier) : null;
}

/** Rank of a plan name as {@link normalizeTier} reads it; 0 for unknown names, so they rank below every tier. */
export function tierRank(name: unknown): number {
  const tier = normalizeTier(name);
  return tier === null ? 0 : TIER_RANK[tier];
}

/** Tier prices from a creator's `creator_tier_settings` row, and comparison of SOL amounts in lamports. */
import { DEFAULT_TIER_PRICES, type PaidTier } from './tiers.ts';

/** The three JSON columns of a `creator_tier_settings` row, each `{enabled, price, description, features}` as stored. */
export interface TierSettingsColumns {
  basicTier: unknown;
  premiumTier: unknown;
  vipTier: unknown;
}

const COLUMN: Readonly<Record<PaidTier, keyof TierSettingsColumns>> = { basic: 'basicTier', premium: 'premiumTier', vip: 'vipTier' };

/**
 * Whether the creator sells `tier` and its price in SOL. With no settings row, or a column that is not an object,
 * the tier is enabled at its default price. `enabled` is true when absent (undefined or null), false for any value
 * other than `true`; a price that is not a finite number above 0 falls back to {@link DEFAULT_TIER_PRICES}.
 */
export function tierPrice(settings: TierSettingsColumns | null, tier: PaidTier): { enabled: boolean; price: number } {
  const column = settings?.[COLUMN[tier]];
  const json = typeof column === 'object' && column !== null ? (column as Record<string, unknown>) : {};
  const { enabled, price } = json;
  return {
    enabled: enabled === undefined || enabled === null || enabled === true,
    price: typeof price === 'number' && Number.isFinite(price) && price > 0 ? price : DEFAULT_TIER_PRICES[tier],
  };
}

/** SOL → lamports (1 SOL = 1e9 lamports), rounded to the nearest lamport. */
export function toLamports(amount: number): number {
  return Math.round(amount * 1e9);
}

/** True when two SOL amounts are the same number of lamports; false if either is not finite. */
export function amountsMatch(paid: number, expected: number): boolean {
  return Number.isFinite(paid) && Number.isFinite(expected) && toLamports(paid) === toLamports(expected);
}

/** What buying a plan does to a viewer's existing subscription for the same creator. */
import { isEffectiveSubscription, type SubscriptionFacts } from './entitlement.ts';
import { normalizeTier, TIER_RANK, tierRank, type PaidTier, type Tier } from './tiers.ts';

/**
 * The planned change. `new`: no effective subscription, a fresh month from now. `renewal`: the same plan, one month
 * added to its end. `upgrade`: a higher plan at once, ending at the later of the old end and a month from now.
 * `conflict`: an effective higher plan exists; nothing changes (the HTTP layer answers 409).
 * `previousPlan` is the old row's plan normalized, or null when there was no row or its plan is unknown.
 */
export type SubscriptionChange =
  | { kind: 'new' | 'renewal' | 'upgrade'; plan: PaidTier; previousPlan: Tier | null; validUntil: Date }
  | { kind: 'conflict'; previousPlan: Tier | null; reason: string };

/**
 * One calendar month after `from` in UTC with the time of day kept; the day is clamped to the target month's
 * length (Jan 31 → Feb 28, or Feb 29 in a leap year). Throws RangeError for an invalid Date.
 */
export function addOneMonth(from: Date): Date {
  if (Number.isNaN(from.getTime())) throw new RangeError('addOneMonth: invalid date');
  const day = from.getUTCDate();
  const next = new Date(from.getTime());
  next.setUTCDate(1);
  next.setUTCMonth(next.getUTCMonth() + 1);
  const lastDay = new Date(next.getTime());
  lastDay.setUTCMonth(lastDay.getUTCMonth() + 1, 0);
  next.setUTCDate(Math.min(day, lastDay.getUTCDate()));
  return next;
}

/** Plans the change that buying `plan` at `now` makes to `current` (see {@link SubscriptionChange}). */
export function planSubscriptionChange(current: SubscriptionFacts | null, plan: PaidTier, now: Date): SubscriptionChange {
  const previousPlan = current === null ? null : normalizeTier(current.plan);
  if (current === null || !isEffectiveSubscription(current, now)) {
    return { kind: 'new', plan, previousPlan, validUntil: addOneMonth(now) };
  }
  if (previousPlan === plan) return { kind: 'renewal', plan, previousPlan, validUntil: addOneMonth(current.validUntil) };
  if (tierRank(previousPlan) < TIER_RANK[plan]) {
    const fromNow = addOneMonth(now);
    const validUntil = current.validUntil.getTime() > fromNow.getTime() ? new Date(current.validUntil.getTime()) : fromNow;
    return { kind: 'upgrade', plan, previousPlan, validUntil };
  }
  return { kind: 'conflict', previousPlan, reason: `an effective ${previousPlan} subscription outranks ${plan}` };
}

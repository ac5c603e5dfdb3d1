/**
 * Subscription state changes that are not payments: cancellation, and the sweep that announces expiries.
 * Each change commits with its `subscription-updated` event (outbox) in one transaction.
 */
import { and, eq, gt, lte, sql } from 'drizzle-orm';
import type { SubscriptionStatus, SubscriptionUpdatedData } from '@fonana-realtime/protocol';
import { canSeePost, type PostAccessInput, type ViewerFacts } from '../domain/entitlement.ts';
import { subscriptionUpdated } from '../domain/events.ts';
import { normalizeTier } from '../domain/tiers.ts';
import type { Orm, Queryable } from './client.ts';
import { viewerFactsForCreator } from './entitlements.ts';
import { appendEvents, transactionWithEvents, type OnCommitted } from './outbox.ts';
import { listCreatorPosts } from './posts.ts';
import { subscriptionNotices, subscriptions } from './schema.ts';

const PARTITION_LIMIT = 500;
/** Expiries older than this are not announced any more (a gateway that was down for a week starts fresh). */
const EXPIRY_LOOKBACK_MS = 7 * 24 * 3600_000;
const EXPIRY_BATCH = 100;

/** How many of a creator's posts (newest first) a `subscription-updated` event looks at. */
export const PARTITION_SCAN = 1000;
/** The creator's posts (newest first) split by whether `userId` can see them now. */
export async function creatorPostPartition(
  db: Queryable,
  userId: string,
  creatorId: string,
  now: Date,
): Promise<{ unlockedPostIds: string[]; lockedPostIds: string[] }> {
  const posts = await listCreatorPosts(db, creatorId, { limit: PARTITION_SCAN });
  const facts = await viewerFactsForCreator(db, userId, creatorId, posts.map((p) => p.id));
  return partitionPosts(posts, facts, now);
}

/** `posts` (newest first, at most PARTITION_SCAN) split by whether the viewer of `facts` can see them at `now`. */
export function partitionPosts(
  posts: readonly (PostAccessInput & { id: string })[],
  facts: (postId: string) => ViewerFacts,
  now: Date,
): { unlockedPostIds: string[]; lockedPostIds: string[] } {
  const unlockedPostIds: string[] = [];
  const lockedPostIds: string[] = [];
  for (const post of posts) (canSeePost(post, facts(post.id), now) ? unlockedPostIds : lockedPostIds).push(post.id);
  return { unlockedPostIds: unlockedPostIds.slice(0, PARTITION_LIMIT), lockedPostIds: lockedPostIds.slice(0, PARTITION_LIMIT) };
}

type SubscriptionChangeFacts = {
  userId: string;
  creatorId: string;
  plan: string;
  previousPlan: string | null;
  status: SubscriptionStatus;
  validUntil: Date;
};

/** Builds the `subscription-updated` event for the state the transaction now sees. */
export async function subscriptionUpdatedEvent(tx: Queryable, change: SubscriptionChangeFacts, now: Date) {
  return subscriptionUpdatedWith(change, await creatorPostPartition(tx, change.userId, change.creatorId, now));
}

/** The `subscription-updated` event of `change`, with the creator's posts already split (`partitionPosts`). */
export function subscriptionUpdatedWith(change: SubscriptionChangeFacts, partition: { unlockedPostIds: string[]; lockedPostIds: string[] }) {
  const data: SubscriptionUpdatedData = {
    creatorId: change.creatorId,
    plan: normalizeTier(change.plan) ?? change.plan.toLowerCase(),
    previousPlan: change.previousPlan === null ? null : (normalizeTier(change.previousPlan) ?? change.previousPlan.toLowerCase()),
    status: change.status,
    validUntil: change.validUntil.toISOString(),
    ...partition,
  };
  return subscriptionUpdated(change.userId, data);
}

export type CancelResult =
  | { found: false }
  | { found: true; alreadyCancelled: boolean; plan: string; validUntil: string; eventId: string | null };

/**
 * Cancels a subscription now: `isActive = false` (access ends at once), `validUntil` kept as the record of what was
 * paid for. Cancelling an inactive subscription changes and sends nothing.
 */
export async function cancelSubscription(
  db: Orm,
  userId: string,
  creatorId: string,
  options: { now?: Date; onCommitted?: OnCommitted } = {},
): Promise<CancelResult> {
  const now = options.now ?? new Date();
  return transactionWithEvents(db, options.onCommitted, async (tx, append): Promise<CancelResult> => {
    const [row] = await tx
      .select({ id: subscriptions.id, plan: subscriptions.plan, isActive: subscriptions.isActive, validUntil: subscriptions.validUntil })
      .from(subscriptions)
      .where(and(eq(subscriptions.userId, userId), eq(subscriptions.creatorId, creatorId)))
      .for('update');
    if (!row) return { found: false };
    const plan = normalizeTier(row.plan) ?? row.plan;
    if (!row.isActive) return { found: true, alreadyCancelled: true, plan, validUntil: row.validUntil.toISOString(), eventId: null };
    await tx.update(subscriptions).set({ isActive: false }).where(eq(subscriptions.id, row.id));
    const event = await subscriptionUpdatedEvent(
      tx,
      { userId, creatorId, plan: row.plan, previousPlan: row.plan, status: 'cancelled', validUntil: row.validUntil },
      now,
    );
    const [stored] = await append([event]);
    return { found: true, alreadyCancelled: false, plan, validUntil: row.validUntil.toISOString(), eventId: stored!.id };
  });
}

/**
 * Announces subscriptions whose `validUntil` has passed (once each, across every gateway process: the notice row
 * is the guard). Returns how many were announced.
 */
export async function announceExpiries(db: Orm, now = new Date()): Promise<number> {
  const due = await db
    .select({
      id: subscriptions.id,
      userId: subscriptions.userId,
      creatorId: subscriptions.creatorId,
      plan: subscriptions.plan,
      validUntil: subscriptions.validUntil,
    })
    .from(subscriptions)
    .where(
      and(
        eq(subscriptions.isActive, true),
        eq(subscriptions.paymentStatus, 'COMPLETED'),
        lte(subscriptions.validUntil, now),
        gt(subscriptions.validUntil, new Date(now.getTime() - EXPIRY_LOOKBACK_MS)),
        sql`not exists (select 1 from realtime.subscription_notices n
                        where n.subscription_id = ${subscriptions.id} and n.valid_until = ${subscriptions.validUntil} and n.kind = 'expired')`,
      ),
    )
    .limit(EXPIRY_BATCH);
  let announced = 0;
  for (const sub of due) {
    const done = await db.transaction(async (tx) => {
      // Renewed or cancelled since the scan? Then there is nothing to announce.
      const [current] = await tx
        .select({ validUntil: subscriptions.validUntil, isActive: subscriptions.isActive })
        .from(subscriptions)
        .where(eq(subscriptions.id, sub.id))
        .for('update');
      if (!current?.isActive || current.validUntil.getTime() !== sub.validUntil.getTime()) return false;
      const claimed = await tx
        .insert(subscriptionNotices)
        .values({ subscriptionId: sub.id, validUntil: sub.validUntil, kind: 'expired' })
        .onConflictDoNothing()
        .returning({ id: subscriptionNotices.subscriptionId });
      if (claimed.length === 0) return false;
      const event = await subscriptionUpdatedEvent(
        tx,
        { userId: sub.userId, creatorId: sub.creatorId, plan: sub.plan, previousPlan: sub.plan, status: 'expired', validUntil: sub.validUntil },
        now,
      );
      await appendEvents(tx, [event]);
      return true;
    });
    if (done) announced++;
  }
  return announced;
}

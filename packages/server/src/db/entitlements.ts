/**
 * The one "effective entitlement" query: what the policy in domain/entitlement.ts needs to know about a viewer
 * and a set of posts. Every caller (WebSocket ACL, HTTP reads, event fan-out) goes through here.
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { SubscriptionFacts, ViewerFacts } from '../domain/entitlement.ts';
import type { Queryable } from './client.ts';
import { postPurchases, subscriptions } from './schema.ts';

/** The viewer's subscription row for one creator (effective or not: the policy decides), or null. */
export async function findSubscription(db: Queryable, userId: string, creatorId: string): Promise<(SubscriptionFacts & { id: string }) | null> {
  const rows = await db
    .select({
      id: subscriptions.id,
      plan: subscriptions.plan,
      isActive: subscriptions.isActive,
      paymentStatus: subscriptions.paymentStatus,
      validUntil: subscriptions.validUntil,
    })
    .from(subscriptions)
    .where(and(eq(subscriptions.userId, userId), eq(subscriptions.creatorId, creatorId)))
    .limit(1);
  return rows[0] ?? null;
}

/** Ids among `postIds` the user holds a COMPLETED purchase of. */
export async function completedPurchases(db: Queryable, userId: string, postIds: readonly string[]): Promise<Set<string>> {
  if (postIds.length === 0) return new Set();
  const rows = await db
    .select({ postId: postPurchases.postId })
    .from(postPurchases)
    .where(
      and(
        eq(postPurchases.userId, userId),
        eq(postPurchases.paymentStatus, 'COMPLETED'),
        inArray(postPurchases.postId, [...postIds]),
      ),
    );
  return new Set(rows.map((r) => r.postId));
}

/**
 * The facts about `userId` (null: anonymous) for posts of one creator: a function from post id to ViewerFacts.
 * Two queries whatever the number of posts.
 */
export async function viewerFactsForCreator(
  db: Queryable,
  userId: string | null,
  creatorId: string,
  postIds: readonly string[],
): Promise<(postId: string) => ViewerFacts> {
  if (userId === null) return () => ({ userId: null, hasCompletedPurchase: false, subscription: null });
  const [subscription, purchased] = await Promise.all([
    findSubscription(db, userId, creatorId),
    completedPurchases(db, userId, postIds),
  ]);
  return (postId) => ({ userId, hasCompletedPurchase: purchased.has(postId), subscription });
}

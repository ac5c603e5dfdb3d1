import { desc, eq, inArray, sql } from 'drizzle-orm';
import type { Queryable } from './client.ts';
import type { PostAccessInput } from '../domain/entitlement.ts';
import type { ViewablePost } from '../domain/post-view.ts';
import { posts } from './schema.ts';

/** The post columns the gateway reads: access facts and the content a permitted reader gets. */
export const postColumns = {
  id: posts.id,
  creatorId: posts.creatorId,
  title: posts.title,
  content: posts.content,
  type: posts.type,
  category: posts.category,
  mediaUrl: posts.mediaUrl,
  thumbnail: posts.thumbnail,
  isLocked: posts.isLocked,
  isPremium: posts.isPremium,
  isSellable: posts.isSellable,
  price: posts.price,
  currency: posts.currency,
  minSubscriptionTier: posts.minSubscriptionTier,
  likesCount: posts.likesCount,
  commentsCount: posts.commentsCount,
  createdAt: posts.createdAt,
  updatedAt: posts.updatedAt,
};

/** A post as the gateway reads it: the columns of `postColumns`. */
export type PostRow = ViewablePost;

export async function findPost(db: Queryable, postId: string): Promise<PostRow | null> {
  const rows = await db.select(postColumns).from(posts).where(eq(posts.id, postId)).limit(1);
  return rows[0] ?? null;
}

export async function findPosts(db: Queryable, postIds: readonly string[]): Promise<PostRow[]> {
  if (postIds.length === 0) return [];
  return db.select(postColumns).from(posts).where(inArray(posts.id, [...postIds]));
}

/** What the entitlement policy reads of a post, and its id. */
export interface PostAccessRow extends PostAccessInput {
  id: string;
}

/** Of `postIds`, the access columns of those that exist: one query (`= any($1)`) for the whole batch. */
export async function findPostAccess(db: Queryable, postIds: readonly string[]): Promise<PostAccessRow[]> {
  return db
    .select({
      id: posts.id,
      creatorId: posts.creatorId,
      isLocked: posts.isLocked,
      isPremium: posts.isPremium,
      price: posts.price,
      currency: posts.currency,
      minSubscriptionTier: posts.minSubscriptionTier,
    })
    .from(posts)
    .where(sql`${posts.id} = any(${sql.param(postIds)}::text[])`);
}

/** A creator's posts, newest first. */
export async function listCreatorPosts(
  db: Queryable,
  creatorId: string,
  options: { limit: number; offset?: number },
): Promise<PostRow[]> {
  return db
    .select(postColumns)
    .from(posts)
    .where(eq(posts.creatorId, creatorId))
    .orderBy(desc(posts.createdAt), desc(posts.id))
    .limit(options.limit)
    .offset(options.offset ?? 0);
}

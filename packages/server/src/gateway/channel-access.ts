/**
 * Who may subscribe to what. `post` channels are decided by the one entitlement policy (domain/entitlement.ts)
 * over the one entitlement query (db/entitlements.ts), the same as the HTTP API; the post's own columns may come
 * from the post cache, the viewer's purchases and subscription are read from the database every time.
 */
import type { Channel, Code } from '@fonana-realtime/protocol';
import { canSeePost } from '../domain/entitlement.ts';
import type { Queryable } from '../db/client.ts';
import { viewerFactsForCreator } from '../db/entitlements.ts';
import { findPosts, type PostRow } from '../db/posts.ts';
import type { KnownUsers } from '../auth/known-users.ts';
import type { PostCache } from './post-cache.ts';

export type AccessResult = { ok: true } | { ok: false; code: Code };

const FORBIDDEN: AccessResult = { ok: false, code: 'GW_ERR_CHANNEL_FORBIDDEN' };
const NOT_FOUND: AccessResult = { ok: false, code: 'GW_ERR_CHANNEL_NOT_FOUND' };
const OK: AccessResult = { ok: true };

/** The remembered, batched lookups of the access checks. */
export interface AccessLookups {
  readonly users: Pick<KnownUsers, 'exists'>;
  readonly posts: Pick<PostCache, 'get'>;
}

/**
 * - `notifications`, `feed`: only the user's own.
 * - `creator`: any signed-in user, if the creator exists.
 * - `post`: whoever the entitlement policy lets see the post's content.
 */
export async function authorizeChannel(
  db: Queryable,
  { users, posts }: AccessLookups,
  userId: string,
  channel: Channel,
): Promise<AccessResult> {
  switch (channel.type) {
    case 'notifications':
    case 'feed':
      return channel.id === userId ? OK : FORBIDDEN;
    case 'creator':
      return (await users.exists(channel.id)) ? OK : NOT_FOUND;
    case 'post': {
      const post = await posts.get(channel.id);
      if (!post) return NOT_FOUND;
      const facts = await viewerFactsForCreator(db, userId, post.creatorId, [post.id]);
      return canSeePost(post, facts(post.id), new Date()) ? OK : FORBIDDEN;
    }
    case 'user':
      return FORBIDDEN;
  }
}

/** Of `postIds`, those the user may no longer see (a deleted post counts as no longer visible). */
export async function revokedPosts(db: Queryable, userId: string, postIds: readonly string[]): Promise<Set<string>> {
  const found = await findPosts(db, postIds);
  const revoked = new Set(postIds);
  const byCreator = new Map<string, PostRow[]>();
  for (const post of found) {
    const list = byCreator.get(post.creatorId) ?? [];
    list.push(post);
    byCreator.set(post.creatorId, list);
  }
  const now = new Date();
  for (const [creatorId, list] of byCreator) {
    const facts = await viewerFactsForCreator(db, userId, creatorId, list.map((p) => p.id));
    for (const post of list) if (canSeePost(post, facts(post.id), now)) revoked.delete(post.id);
  }
  return revoked;
}

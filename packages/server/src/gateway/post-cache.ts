/**
 * What the entitlement policy reads of a post (creator, lock, price, tier), for `post` subscriptions: lookups arriving
 * in the same event-loop turn go to the database as one query (`= any($1)`), and posts found are remembered for a
 * bounded time (`POST_CACHE_TTL_MS`) in a bounded map (`POST_CACHE_SIZE`, oldest dropped first). Posts not found are
 * never remembered, so a post created a moment ago can be subscribed to at once.
 *
 * No event announces a post edited in the platform database (locked, repriced, deleted), so nothing but the TTL forgets one:
 * new subscribes see the edit within the TTL. Open subscriptions are re-checked against the database itself after
 * entitlement events (WebSocketGateway.recheckPostAccess), and the viewer's purchases and subscription are never
 * cached here.
 */
import { BatchedLookup, type BatchedLookupOptions } from '../cache/batched-lookup.ts';
import type { Queryable } from '../db/client.ts';
import { findPostAccess, type PostAccessRow } from '../db/posts.ts';

export interface PostCacheOptions extends BatchedLookupOptions {
  /** Counts each database query (a metric). */
  readonly onQuery?: () => void;
}

export class PostCache {
  readonly #lookup: BatchedLookup<PostAccessRow>;

  constructor(db: Queryable, options: PostCacheOptions) {
    this.#lookup = new BatchedLookup(async (ids) => {
      options.onQuery?.();
      const rows = await findPostAccess(db, ids);
      return new Map(rows.map((post) => [post.id, post]));
    }, options);
  }

  /** hot path: the post's access facts, or null when it does not exist (remembered, or batched with this turn's lookups). */
  async get(postId: string): Promise<PostAccessRow | null> {
    return (await this.#lookup.get(postId)) ?? null;
  }

  get size(): number {
    return this.#lookup.size;
  }
}

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
import type { Queryable } from '../db/client.ts';
import { findPostAccess, type PostAccessRow } from '../db/posts.ts';

export interface PostCacheOptions {
  /** How long a found post is trusted; 0 turns remembering off (every lookup queries). */
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Ids per query at most. Default 1000. */
  readonly maxBatch?: number;
  /** Counts each database query (a metric). */
  readonly onQuery?: () => void;
}

interface Waiter {
  resolve(post: PostAccessRow | null): void;
  reject(err: unknown): void;
}

interface Remembered {
  readonly post: PostAccessRow;
  /** Time (ms) until which it is trusted. */
  readonly until: number;
}

export class PostCache {
  readonly #db: Queryable;
  readonly #options: PostCacheOptions;
  /** Insertion order is age order. */
  readonly #found = new Map<string, Remembered>();
  #waiting = new Map<string, Waiter[]>();
  #scheduled = false;

  constructor(db: Queryable, options: PostCacheOptions) {
    this.#db = db;
    this.#options = options;
  }

  /** hot path: the post's access facts, or null when it does not exist (remembered, or batched with this turn's lookups). */
  get(postId: string): Promise<PostAccessRow | null> {
    const entry = this.#found.get(postId);
    if (entry !== undefined) {
      if (entry.until > Date.now()) return Promise.resolve(entry.post);
      this.#found.delete(postId);
    }
    return new Promise((resolve, reject) => {
      const list = this.#waiting.get(postId);
      if (list) list.push({ resolve, reject });
      else this.#waiting.set(postId, [{ resolve, reject }]);
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  get size(): number {
    return this.#found.size;
  }

  #flush(): void {
    this.#scheduled = false;
    const waiting = this.#waiting;
    this.#waiting = new Map();
    const ids = [...waiting.keys()];
    const max = this.#options.maxBatch ?? 1000;
    for (let i = 0; i < ids.length; i += max) void this.#query(ids.slice(i, i + max), waiting);
  }

  async #query(ids: string[], waiting: Map<string, Waiter[]>): Promise<void> {
    let rows: PostAccessRow[];
    try {
      this.#options.onQuery?.();
      rows = await findPostAccess(this.#db, ids);
    } catch (err) {
      for (const id of ids) for (const w of waiting.get(id)!) w.reject(err);
      return;
    }
    const byId = new Map(rows.map((post) => [post.id, post]));
    if (this.#options.ttlMs > 0) {
      const until = Date.now() + this.#options.ttlMs;
      for (const post of rows) this.#remember(post, until);
    }
    for (const id of ids) for (const w of waiting.get(id)!) w.resolve(byId.get(id) ?? null);
  }

  #remember(post: PostAccessRow, until: number): void {
    this.#found.delete(post.id);
    this.#found.set(post.id, { post, until });
    while (this.#found.size > this.#options.maxEntries) this.#found.delete(this.#found.keys().next().value!);
  }
}

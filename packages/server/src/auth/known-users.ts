/**
 * Which user ids exist, for `creator` subscriptions (any user lookup may use it): lookups arriving in the same
 * event-loop turn go to the database as one query (`= any($1)`), and ids found are remembered for a bounded time
 * (`USER_CACHE_TTL_MS`) in a bounded map (`USER_CACHE_SIZE`, oldest dropped first). Unknown ids are never remembered,
 * so a user created a moment ago can connect at once. `invalidate(id)` forgets a user at once (a `user-deleted` event,
 * the disconnect API); a lookup in flight when that happens answers but is not remembered.
 */
import type { Queryable } from '../db/client.ts';
import { existingUserIds } from '../db/users.ts';

export interface KnownUsersOptions {
  /** How long a found id is trusted; 0 turns remembering off (every lookup queries). */
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Ids per query at most. Default 1000. */
  readonly maxBatch?: number;
}

interface Waiter {
  resolve(exists: boolean): void;
  reject(err: unknown): void;
}

export class KnownUsers {
  readonly #db: Queryable;
  readonly #options: KnownUsersOptions;
  /** id → time (ms) until which it is trusted; insertion order is age order. */
  readonly #found = new Map<string, number>();
  #waiting = new Map<string, Waiter[]>();
  #scheduled = false;
  /** Bumped by every invalidation: a batch that started before one does not remember its answers. */
  #generation = 0;

  constructor(db: Queryable, options: KnownUsersOptions) {
    this.#db = db;
    this.#options = options;
  }

  /** hot path: whether the user exists (remembered, or batched with the other lookups of this turn). */
  exists(userId: string): Promise<boolean> {
    const until = this.#found.get(userId);
    if (until !== undefined) {
      if (until > Date.now()) return Promise.resolve(true);
      this.#found.delete(userId);
    }
    return new Promise((resolve, reject) => {
      const list = this.#waiting.get(userId);
      if (list) list.push({ resolve, reject });
      else this.#waiting.set(userId, [{ resolve, reject }]);
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Forgets a user now, so its next lookup reads the database. */
  invalidate(userId: string): void {
    this.#found.delete(userId);
    this.#generation++;
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
    const generation = this.#generation;
    let found: Set<string>;
    try {
      found = await existingUserIds(this.#db, ids);
    } catch (err) {
      for (const id of ids) for (const w of waiting.get(id)!) w.reject(err);
      return;
    }
    if (generation === this.#generation && this.#options.ttlMs > 0) {
      const until = Date.now() + this.#options.ttlMs;
      for (const id of found) this.#remember(id, until);
    }
    for (const id of ids) for (const w of waiting.get(id)!) w.resolve(found.has(id));
  }

  #remember(userId: string, until: number): void {
    this.#found.delete(userId);
    this.#found.set(userId, until);
    while (this.#found.size > this.#options.maxEntries) this.#found.delete(this.#found.keys().next().value!);
  }
}

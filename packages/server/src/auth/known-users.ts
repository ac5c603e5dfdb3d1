/**
 * Which user ids exist, for `creator` subscriptions (any user lookup may use it): lookups arriving in the same
 * event-loop turn go to the database as one query (`= any($1)`), and ids found are remembered for a bounded time
 * (`USER_CACHE_TTL_MS`) in a bounded map (`USER_CACHE_SIZE`, oldest dropped first). Unknown ids are never remembered,
 * so a user created a moment ago can connect at once. `invalidate(id)` forgets a user at once (a `user-deleted` event,
 * the disconnect API); a lookup in flight when that happens answers but is not remembered.
 */
import { BatchedLookup, type BatchedLookupOptions } from '../cache/batched-lookup.ts';
import type { Queryable } from '../db/client.ts';
import { existingUserIds } from '../db/users.ts';

export type KnownUsersOptions = BatchedLookupOptions;

export class KnownUsers {
  readonly #lookup: BatchedLookup<true>;

  constructor(db: Queryable, options: KnownUsersOptions) {
    this.#lookup = new BatchedLookup(async (ids) => {
      const found = await existingUserIds(db, ids);
      return new Map([...found].map((id) => [id, true as const]));
    }, options);
  }

  /** hot path: whether the user exists (remembered, or batched with the other lookups of this turn). */
  async exists(userId: string): Promise<boolean> {
    return (await this.#lookup.get(userId)) === true;
  }

  /** Forgets a user now, so its next lookup reads the database. */
  invalidate(userId: string): void {
    this.#lookup.invalidate(userId);
  }

  get size(): number {
    return this.#lookup.size;
  }
}

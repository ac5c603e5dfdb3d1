/**
 * Token revocation per user: `realtime.token_not_before` holds the earliest `iat` a user's token may have.
 * A disconnect raises it and commits the `_disconnect` event in the same transaction, so every node closes the
 * user's sockets and no node accepts the old tokens again.
 */
import { sql } from 'drizzle-orm';
import { userDisconnected } from '../domain/events.ts';
import { queryRows, type Orm, type Queryable } from './client.ts';
import { transactionWithEvents, type OnCommitted } from './outbox.ts';

export interface UserAuthState {
  readonly exists: boolean;
  /** Tokens issued before this time (ms since the epoch) are refused; null when the user was never disconnected. */
  readonly notBefore: number | null;
}

/** Whether the user exists and their token not-before time, in one query (it runs on every authentication). */
export async function userAuthState(db: Queryable, userId: string): Promise<UserAuthState> {
  return (await userAuthStates(db, [userId])).get(userId)!;
}

/** `userAuthState` of many users in one query (a connect storm's authentications of one event-loop turn). */
export async function userAuthStates(db: Queryable, userIds: readonly string[]): Promise<Map<string, UserAuthState>> {
  const rows = await queryRows<{ id: string; exists: boolean; not_before: Date | string | null }>(
    db,
    sql`select ids.id,
               exists (select 1 from "users" where "id" = ids.id) as "exists",
               (select not_before from realtime.token_not_before where user_id = ids.id) as not_before
        from unnest(${sql.param([...userIds])}::text[]) as ids(id)`,
  );
  const states = new Map<string, UserAuthState>();
  for (const row of rows) states.set(row.id, authState(row.exists, row.not_before));
  return states;
}

/** A user's auth state from the columns a query read: whether the row exists, and `token_not_before.not_before`. */
export function authState(exists: boolean | null, notBefore: Date | string | null): UserAuthState {
  return { exists: exists === true, notBefore: notBefore == null ? null : new Date(notBefore).getTime() };
}

/** True when a token issued at `issuedAt` (ms, null: no `iat`) is refused by the user's not-before time. */
export function issuedTooEarly(issuedAt: number | null, notBefore: number | null): boolean {
  return notBefore !== null && (issuedAt === null || issuedAt < notBefore);
}

/**
 * Refuses the user's tokens issued up to now and announces the disconnect to every node. `iat` has a resolution of
 * one second, so not-before is the start of the next second: a token issued in the same second as the disconnect
 * is refused too. Never lowers an earlier not-before. Returns the not-before time in ms.
 */
export async function disconnectUser(db: Orm, userId: string, options: { now?: number; onCommitted?: OnCommitted } = {}): Promise<number> {
  const requested = (Math.floor((options.now ?? Date.now()) / 1000) + 1) * 1000;
  return transactionWithEvents(db, options.onCommitted, async (tx, append) => {
    const [row] = await queryRows<{ not_before: Date | string }>(
      tx,
      sql`insert into realtime.token_not_before (user_id, not_before) values (${userId}, ${new Date(requested).toISOString()})
          on conflict (user_id) do update
            set not_before = greatest(realtime.token_not_before.not_before, excluded.not_before), updated_at = now()
          returning not_before`,
    );
    const notBefore = new Date(row!.not_before).getTime();
    await append([userDisconnected(userId, { notBefore })]);
    return notBefore;
  });
}

import { eq, sql } from 'drizzle-orm';
import { queryRows, type Queryable } from './client.ts';
import { users } from './schema.ts';

/** True when a row with this id exists in the platform's `users` table. */
export async function userExists(db: Queryable, userId: string): Promise<boolean> {
  const rows = await db.select({ id: users.id }).from(users).where(eq(users.id, userId)).limit(1);
  return rows.length > 0;
}

/** A user's display name for notifications: nickname, else name, else the id. Null when there is no such user. */
export async function findUserName(db: Queryable, userId: string): Promise<string | null> {
  const [row] = await db
    .select({ nickname: users.nickname, name: users.name, fullName: users.fullName })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  if (!row) return null;
  return row.nickname ?? row.fullName ?? row.name ?? userId;
}

/** Of `userIds`, those with a row in the platform's `users` table: one query (`= any($1)`) for the whole batch. */
export async function existingUserIds(db: Queryable, userIds: readonly string[]): Promise<Set<string>> {
  const rows = await queryRows<{ id: string }>(db, sql`select ${users.id} as id from ${users} where ${users.id} = any(${sql.param(userIds)}::text[])`);
  return new Set(rows.map((r) => r.id));
}

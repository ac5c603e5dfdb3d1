import { eq } from 'drizzle-orm';
import type { Queryable } from './client.ts';
import { users } from './schema.ts';

/** True when a row with this id exists in the platform's `users` table. */
export async function userExists(db: Queryable, userId: string): Promise<boolean> {
  const rows = await db.select({ id: users.id }).from(users).where(eq(users.id, userId)).limit(1);
  return rows.length > 0;
}

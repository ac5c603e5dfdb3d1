import { sql } from 'drizzle-orm';
import type { NotificationRow } from '@fonana-realtime/protocol';
import { queryRows, type Queryable } from './client.ts';
import { notifications } from './schema.ts';

const notificationColumns = {
  id: notifications.id,
  userId: notifications.userId,
  type: notifications.type,
  title: notifications.title,
  message: notifications.message,
  isRead: notifications.isRead,
  metadata: notifications.metadata,
  createdAt: notifications.createdAt,
};

type StoredNotification = Omit<NotificationRow, 'createdAt'> & { createdAt: Date };

/** The wire form of a stored notification row (dates as ISO strings). */
export function toNotificationRow(row: StoredNotification): NotificationRow {
  return { ...row, createdAt: row.createdAt.toISOString() };
}

/**
 * The newest `limit` unread notifications of a user and the total number of unread ones, in one statement (the
 * window count is taken before the limit). It runs on every `notifications` subscribe: drizzle's select builder
 * allocated ~78 KB per call for the two queries it replaced, and during a connect storm that garbage lived long
 * enough to be promoted and left the old space fragmented (bench/RESULTS.md, idle memory).
 */
export async function unreadNotifications(
  db: Queryable,
  userId: string,
  limit = 20,
): Promise<{ notifications: NotificationRow[]; count: number }> {
  const rows = await queryRows<NotificationRow & { total: string | number }>(
    db,
    sql`select "id", "userId", "type", "title", "message", "isRead", "metadata",
               to_char("createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "createdAt", count(*) over () as "total"
          from "notifications" where "userId" = ${userId} and "isRead" = false
         order by "notifications"."createdAt" desc limit ${limit}`,
  );
  return {
    notifications: rows.map(({ total: _, ...row }) => row),
    count: rows.length === 0 ? 0 : Number(rows[0]!.total),
  };
}

export interface NewNotification {
  userId: string;
  type: (typeof notifications.$inferInsert)['type'];
  title: string;
  message: string;
  metadata: Record<string, unknown>;
}

/** Inserts a notification row (in the caller's transaction) and returns it in wire form. */
export async function insertNotification(tx: Queryable, id: string, n: NewNotification): Promise<NotificationRow> {
  const [row] = await tx
    .insert(notifications)
    .values({ id, userId: n.userId, type: n.type, title: n.title, message: n.message, metadata: n.metadata, isRead: false })
    .returning(notificationColumns);
  return toNotificationRow(row!);
}

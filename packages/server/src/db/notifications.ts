import { and, count, desc, eq } from 'drizzle-orm';
import type { NotificationRow } from '@fonana-realtime/protocol';
import type { Queryable } from './client.ts';
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

/** The newest `limit` unread notifications of a user and the total number of unread ones. */
export async function unreadNotifications(
  db: Queryable,
  userId: string,
  limit = 20,
): Promise<{ notifications: NotificationRow[]; count: number }> {
  const unread = and(eq(notifications.userId, userId), eq(notifications.isRead, false));
  const [rows, total] = await Promise.all([
    db.select(notificationColumns).from(notifications).where(unread).orderBy(desc(notifications.createdAt)).limit(limit),
    db.select({ n: count() }).from(notifications).where(unread),
  ]);
  return { notifications: rows.map(toNotificationRow), count: total[0]?.n ?? 0 };
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

/** The unread notifications a `notifications` subscribe sends: newest first, at most `limit`, and the full count. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notifications, users } from '../src/db/schema.ts';
import { unreadNotifications } from '../src/db/notifications.ts';
import { createTestDatabase } from './helpers/database.ts';

test('unread notifications: the newest `limit` of the user, every field in wire form, and the count of all unread', async (t) => {
  const { db } = await createTestDatabase(t);
  await db.orm.insert(users).values(['nu-a', 'nu-b'].map((id) => ({ id, wallet: `wallet-${id}`, updatedAt: new Date() })));
  const base = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const rows = Array.from({ length: 25 }, (_, i) => ({
    id: `n-${i}`,
    userId: 'nu-a',
    type: 'COMMENT_POST' as const,
    title: `title ${i}`,
    message: `message ${i}`,
    isRead: i % 5 === 4,
    metadata: i === 23 ? null : { i, nested: { ok: true } },
    createdAt: new Date(base + i * 1000),
  }));
  await db.orm.insert(notifications).values([
    ...rows,
    { id: 'n-other', userId: 'nu-b', type: 'COMMENT_POST', title: 't', message: 'm', isRead: false, metadata: {}, createdAt: new Date(base) },
  ]);
  const unread = rows.filter((r) => !r.isRead).reverse();
  const wire = (r: (typeof rows)[number]) => ({ ...r, createdAt: r.createdAt.toISOString() });

  const got = await unreadNotifications(db.orm, 'nu-a', 7);
  assert.equal(got.count, 20);
  assert.deepEqual(got.notifications, unread.slice(0, 7).map(wire));
  assert.equal(got.notifications[0]!.createdAt, '2026-01-02T03:04:28.678Z');

  const all = await unreadNotifications(db.orm, 'nu-a');
  assert.equal(all.count, 20);
  assert.deepEqual(all.notifications, unread.map(wire));
  assert.deepEqual(await unreadNotifications(db.orm, 'nobody'), { notifications: [], count: 0 });
});

/**
 * The transactional outbox. `appendEvents` is called inside the transaction of the change an event announces;
 * the relay (outbox/relay.ts) reads committed rows in id order and publishes them.
 *
 * Offsets: each channel has a counter row in realtime.channel_offsets. Taking the next offset locks that row
 * until commit, so writers of one channel are serialised and, per channel, id order = offset order = commit order.
 * Channels are locked in sorted order so two transactions that touch the same channels cannot deadlock.
 */
import { createHash } from 'node:crypto';
import { and, asc, inArray, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import { notify, queryRows, type Queryable } from './client.ts';
import { newId } from './ids.ts';
import { outbox, publishKeys } from './schema.ts';

/** NOTIFY channel the relay listens on; the payload is the highest new outbox id, never event data. */
export const OUTBOX_NOTIFY_CHANNEL = 'realtime_outbox';

export interface NewEvent {
  /** Wire key of the channel, e.g. `user_<id>` or `post_<id>`. */
  readonly channel: string;
  readonly type: string;
  readonly data: unknown;
  /** Optional fixed event id (publish idempotency); otherwise a new one. */
  readonly id?: string;
}

export interface StoredEvent {
  readonly rowId: number;
  readonly id: string;
  readonly channel: string;
  readonly offset: number;
  readonly type: string;
  readonly data: unknown;
  /** Milliseconds since the epoch. */
  readonly ts: number;
}

/** Writes events into the outbox of the caller's transaction and wakes the relays at commit. */
export async function appendEvents(tx: Queryable, events: readonly NewEvent[]): Promise<StoredEvent[]> {
  if (events.length === 0) return [];
  const perChannel = new Map<string, number>();
  for (const e of events) perChannel.set(e.channel, (perChannel.get(e.channel) ?? 0) + 1);
  const lastOffsets = new Map<string, number>();
  for (const channel of [...perChannel.keys()].sort()) {
    const n = perChannel.get(channel)!;
    const [row] = await queryRows<{ last_offset: string | number }>(
      tx,
      sql`insert into realtime.channel_offsets (channel, last_offset) values (${channel}, ${n})
          on conflict (channel) do update set last_offset = realtime.channel_offsets.last_offset + ${n}
          returning last_offset`,
    );
    lastOffsets.set(channel, Number(row!.last_offset) - n);
  }
  const values = events.map((e) => {
    const offset = lastOffsets.get(e.channel)! + 1;
    lastOffsets.set(e.channel, offset);
    return { eventId: e.id ?? newId(), channel: e.channel, offset, type: e.type, payload: e.data ?? null };
  });
  const rows = await tx.insert(outbox).values(values).returning();
  await notify(tx, OUTBOX_NOTIFY_CHANNEL, String(rows[rows.length - 1]!.id));
  return rows.map(toStoredEvent);
}

/** The event of an outbox row. */
export function toStoredEvent(row: typeof outbox.$inferSelect): StoredEvent {
  return {
    rowId: row.id,
    id: row.eventId,
    channel: row.channel,
    offset: row.offset,
    type: row.type,
    data: row.payload,
    ts: row.createdAt.getTime(),
  };
}

/**
 * The stable hash of a channel key that PostgreSQL stores in `outbox.channel_hash` (migration 0002): the first
 * 32 bits of its MD5, without the sign bit.
 */
export function channelHash(channel: string): number {
  return createHash('md5').update(channel).digest().readUInt32BE(0) & 0x7fffffff;
}

/** The outbox partition of a channel when the outbox has `partitions` partitions. */
export function channelPartition(channel: string, partitions: number): number {
  return channelHash(channel) % partitions;
}

/** One partition of the outbox: rows whose `channel_hash % count = index`. */
export interface OutboxPartition {
  readonly index: number;
  readonly count: number;
}

/**
 * Locks and returns up to `limit` unpublished rows of one partition in id order (call inside a transaction).
 * The scan walks the small unpublished-rows index in id order and skips other partitions' rows.
 */
export async function lockUnpublished(tx: Queryable, partition: OutboxPartition, limit: number): Promise<StoredEvent[]> {
  const rows = await tx
    .select()
    .from(outbox)
    .where(and(isNull(outbox.publishedAt), sql`${outbox.channelHash} % ${partition.count} = ${partition.index}`))
    .orderBy(asc(outbox.id))
    .limit(limit)
    .for('update');
  return rows.map(toStoredEvent);
}

export async function markPublished(tx: Queryable, rowIds: readonly number[]): Promise<void> {
  if (rowIds.length === 0) return;
  await tx.update(outbox).set({ publishedAt: new Date() }).where(inArray(outbox.id, [...rowIds]));
}

/** Deletes published rows older than `olderThan` and expired publish idempotency keys. Returns rows deleted. */
export async function pruneOutbox(db: Queryable, olderThan: Date, keysOlderThan: Date): Promise<number> {
  const deleted = await db
    .delete(outbox)
    .where(and(isNotNull(outbox.publishedAt), lt(outbox.publishedAt, olderThan)))
    .returning({ id: outbox.id });
  await db.delete(publishKeys).where(lt(publishKeys.createdAt, keysOlderThan));
  return deleted.length;
}

/** Number of committed rows not yet published (for metrics and readiness). */
export async function unpublishedCount(db: Queryable): Promise<number> {
  const [row] = await queryRows<{ n: string | number }>(db, sql`select count(*) as n from realtime.outbox where published_at is null`);
  return Number(row?.n ?? 0);
}

/**
 * The transactional outbox. `appendEvents` is called inside the transaction of the change an event announces;
 * the relay (outbox/relay.ts) reads committed rows in id order and publishes them.
 *
 * Offsets: each channel has a counter row in realtime.channel_offsets. Taking the next offset locks that row
 * until commit, so writers of one channel are serialised and, per channel, id order = offset order = commit order.
 * Channels are locked in sorted order so two transactions that touch the same channels cannot deadlock.
 */
import { createHash } from 'node:crypto';
import { and, inArray, isNotNull, lt, sql, type SQL } from 'drizzle-orm';
import { queryRows, transactionWithAdvisoryLock, type Orm, type Queryable, type Tx } from './client.ts';
import { newId } from './ids.ts';
import { outbox, publishKeys } from './schema.ts';

/**
 * NOTIFY channel the relay listens on. The payload names the stored channel hashes of the new rows (`h:<hash>,<hash>…`,
 * so a relay wakes only their partitions), or, when a transaction wrote more than NOTIFY_MAX_HASHES channels, the
 * highest new outbox id (any payload but `h:…` wakes every partition). Never event data.
 */
export const OUTBOX_NOTIFY_CHANNEL = 'realtime_outbox';
const NOTIFY_MAX_HASHES = 64;

/** The channel hashes a NOTIFY payload names, or null when it wakes every partition. */
export function notifiedHashes(payload: string): number[] | null {
  if (!payload.startsWith('h:')) return null;
  const hashes = payload.slice(2).split(',').map(Number);
  return hashes.every((h) => Number.isInteger(h) && h >= 0) ? hashes : null;
}

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

/**
 * Writes events into the outbox and wakes the relays at commit, in one statement: the channels' counters (taken in
 * channel order), the rows (ids in the order of `events`) and the NOTIFY. Called inside the transaction of the change
 * the events announce; a plain publish calls it on its own, so the counter row is locked only while PostgreSQL runs
 * that one statement, never across round trips. With `notify: false` no relay is woken: for a caller that hands the
 * events to the broker itself after the commit (outbox/committed-publisher.ts); the relays' poll is their fallback.
 */
export async function appendEvents(on: Queryable, events: readonly NewEvent[], options: { notify?: boolean } = {}): Promise<StoredEvent[]> {
  if (events.length === 0) return [];
  const rows = await queryRows<OutboxRow>(
    on,
    sql`with ${outboxWrites(events, options)}
        select ${OUTBOX_ROW_COLUMNS} from inserted order by id`,
  );
  return rows.map(fromRow);
}

/**
 * The CTEs of `appendEvents` (`events`, `counts`, `heads`, `inserted`, `notified`), for a statement that writes the
 * events together with other rows: `with <its CTEs>, ${outboxWrites(…)} select …`. Select the rows from `inserted`
 * (columns OUTBOX_ROW_COLUMNS, order by id); in a transaction of `transactionWithEvents`, `append.within` does both.
 * `events` must not be empty.
 */
export function outboxWrites(events: readonly NewEvent[], options: { notify?: boolean } = {}): SQL {
  const seen = new Map<string, number>();
  const values = events.map((e, ord) => {
    const seq = (seen.get(e.channel) ?? 0) + 1;
    seen.set(e.channel, seq);
    const payload = e.data === undefined || e.data === null ? null : JSON.stringify(e.data);
    return sql`(${e.id ?? newId()}::text, ${e.channel}::text, ${seq}::bigint, ${e.type}::text, ${payload}::jsonb, ${ord}::int)`;
  });
  return sql`events (event_id, channel, seq, type, payload, ord) as (values ${sql.join(values, sql`, `)}),
        counts as (select channel, count(*)::bigint as n from events group by channel),
        heads as (
          insert into realtime.channel_offsets (channel, last_offset)
          select channel, n from counts order by channel
          on conflict (channel) do update set last_offset = realtime.channel_offsets.last_offset + excluded.last_offset
          returning channel, last_offset
        ),
        inserted as (
          insert into realtime.outbox (event_id, channel, "offset", type, payload)
          select e.event_id, e.channel, h.last_offset - c.n + e.seq, e.type, e.payload
          from events e join heads h using (channel) join counts c using (channel)
          order by e.ord
          returning id, event_id, channel, "offset", type, payload, created_at, channel_hash
        ),
        notified as (${
          options.notify === false
            ? sql`select null`
            : sql`select pg_notify(${OUTBOX_NOTIFY_CHANNEL},
                    case when count(distinct channel_hash) <= ${NOTIFY_MAX_HASHES}
                         then 'h:' || string_agg(distinct channel_hash::text, ',')
                         else max(id)::text end)
                  from inserted`
        })`;
}

/** The columns to select from `inserted` (outboxWrites); `notified` is selected so that the NOTIFY runs. */
export const OUTBOX_ROW_COLUMNS = sql.raw(
  'inserted.id, inserted.event_id, inserted.channel, inserted."offset", inserted.type, inserted.payload, inserted.created_at, (select 1 from notified) as notified',
);

function fromRow(row: OutboxRow): StoredEvent {
  return {
    rowId: Number(row.id),
    id: row.event_id,
    channel: row.channel,
    offset: Number(row.offset),
    type: row.type,
    data: row.payload,
    ts: new Date(row.created_at).getTime(),
  };
}

/** Called with the events a transaction wrote once it committed (in the order they were written). */
export type OnCommitted = (events: readonly StoredEvent[]) => void;

/** Writes events to the outbox inside the transaction it was made for. */
export interface AppendEvents {
  (events: readonly NewEvent[]): Promise<StoredEvent[]>;
  /**
   * The same write as CTEs for a statement of the caller's that writes other rows too (see `outboxWrites`): `rows`
   * takes the `inserted` rows that statement selected and returns (and records) the stored events.
   */
  within(events: readonly NewEvent[]): { ctes: SQL; rows: (rows: readonly OutboxRow[]) => StoredEvent[] };
}

/**
 * Runs `work` in a transaction and writes its events with the `append` it is given. Without `onCommitted` they wake
 * the relays at commit; with it they are written without a NOTIFY and handed to it once the transaction committed
 * (outbox/committed-publisher.ts). With `advisoryLock`, the transaction holds that key's advisory lock from its start
 * (transactionWithAdvisoryLock in db/client.ts).
 */
export async function transactionWithEvents<T>(
  db: Orm,
  onCommitted: OnCommitted | undefined,
  work: (tx: Tx, append: AppendEvents) => Promise<T>,
  options: { advisoryLock?: string } = {},
): Promise<T> {
  const written: StoredEvent[] = [];
  const notify = !onCommitted;
  const inTransaction = (run: (tx: Tx) => Promise<T>) =>
    options.advisoryLock === undefined ? db.transaction(run) : transactionWithAdvisoryLock(db, options.advisoryLock, run);
  const result = await inTransaction((tx) => {
    const append: AppendEvents = Object.assign(
      async (events: readonly NewEvent[]) => {
        const stored = await appendEvents(tx, events, { notify });
        written.push(...stored);
        return stored;
      },
      {
        within: (events: readonly NewEvent[]) => ({
          ctes: outboxWrites(events, { notify }),
          rows: (rows: readonly OutboxRow[]) => {
            const stored = rows.map(fromRow);
            written.push(...stored);
            return stored;
          },
        }),
      },
    );
    return work(tx, append);
  });
  onCommitted?.(written);
  return result;
}

/** An outbox row as `appendEvents` reads it back (bigints may come as strings, depending on the driver). */
export interface OutboxRow {
  id: string | number;
  event_id: string;
  channel: string;
  offset: string | number;
  type: string;
  payload: unknown;
  created_at: Date | string;
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
 * In one statement: bounds the transaction's statements and idle time by `holdMs`, takes the partition's
 * transaction-scoped advisory lock (`lockClass`, partition index) if it is free, and when it got it locks and returns
 * up to `limit` unpublished rows of the partition in id order (with `minAgeMs`, only rows written at least that long
 * ago); null when another transaction holds the partition.
 * The scan walks the small unpublished-rows index in id order and skips other partitions' rows.
 */
export async function lockPartitionBatch(
  tx: Queryable,
  partition: OutboxPartition,
  options: { lockClass: number; holdMs: number; limit: number; minAgeMs?: number },
): Promise<StoredEvent[] | null> {
  const hold = String(options.holdMs);
  const rows = await queryRows<OutboxRow & { locked: boolean }>(
    tx,
    sql`with guard as materialized (
          select set_config('statement_timeout', ${hold}, true),
                 set_config('idle_in_transaction_session_timeout', ${hold}, true),
                 pg_try_advisory_xact_lock(${options.lockClass}, ${partition.index}) as locked
        ),
        batch as (
          select o.id, o.event_id, o.channel, o."offset", o.type, o.payload, o.created_at
          from guard, realtime.outbox o
          where guard.locked and o.published_at is null and o.channel_hash % ${partition.count} = ${partition.index}
            ${options.minAgeMs ? sql`and o.created_at <= now() - make_interval(secs => ${options.minAgeMs / 1000})` : sql``}
          order by o.id
          limit ${options.limit}
          for update of o
        )
        select guard.locked, batch.* from guard left join batch on true order by batch.id`,
  );
  if (!rows[0]?.locked) return null;
  return rows.filter((row) => row.id !== null).map(fromRow);
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

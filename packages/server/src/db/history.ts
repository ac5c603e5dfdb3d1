/**
 * Reads of a channel's history: the outbox rows of the channel by offset (kept OUTBOX_RETENTION_HOURS after they
 * were published) and its head, the last offset and the epoch in realtime.channel_offsets.
 */
import { and, asc, eq, gt, inArray, lte, sql } from 'drizzle-orm';
import { queryRows, type Queryable } from './client.ts';
import { toStoredEvent, type StoredEvent } from './outbox.ts';
import { channelOffsets, outbox } from './schema.ts';

/** Where a channel's history stands: the offset of its last committed event (0: none yet) and its epoch. */
export interface ChannelHead {
  readonly offset: number;
  readonly epoch: string;
}

/**
 * The heads of the given channels, in one statement for all of them. A channel without events gets its counter row
 * (offset 0, a new epoch) here, so the epoch a subscriber is told now is the one its first events will carry.
 */
export async function ensureChannelHeads(db: Queryable, channels: readonly string[]): Promise<Map<string, ChannelHead>> {
  const heads = new Map<string, ChannelHead>();
  // Two nodes creating the same row at once: the one that waited on the other's insert gets nothing back from
  // `do nothing`, and its select runs on a snapshot taken before that insert committed, so it finds no row either.
  // The row exists by then; a second statement (a new snapshot) reads it.
  let missing = [...new Set(channels)];
  for (let attempt = 1; missing.length > 0; attempt++) {
    if (attempt > 3) throw new Error(`channel head of ${missing[0]}: no row after ${attempt - 1} attempts`);
    const rows = await queryRows<{ channel: string; last_offset: string | number; epoch: string }>(
      db,
      sql`with wanted as (select unnest(${sql.param(missing)}::text[]) as channel),
          created as (
            insert into realtime.channel_offsets (channel, last_offset)
            select channel, 0 from wanted order by channel
            on conflict (channel) do nothing
            returning channel, last_offset, epoch
          )
          select channel, last_offset, epoch from created
          union all
          select o.channel, o.last_offset, o.epoch from realtime.channel_offsets o join wanted using (channel)`,
    );
    for (const row of rows) heads.set(row.channel, { offset: Number(row.last_offset), epoch: row.epoch });
    missing = missing.filter((channel) => !heads.has(channel));
  }
  return heads;
}

/** The heads of the given channels, in one query; channels without a row are left out. */
export async function channelHeads(db: Queryable, channels: readonly string[]): Promise<Map<string, ChannelHead>> {
  const heads = new Map<string, ChannelHead>();
  if (channels.length === 0) return heads;
  const rows = await db
    .select()
    .from(channelOffsets)
    .where(inArray(channelOffsets.channel, [...channels]));
  for (const row of rows) heads.set(row.channel, { offset: row.lastOffset, epoch: row.epoch });
  return heads;
}

/** The channel's events with `after < offset <= upTo`, in offset order (rows already pruned are simply absent). */
export async function channelEvents(db: Queryable, channel: string, after: number, upTo: number): Promise<StoredEvent[]> {
  const rows = await db
    .select()
    .from(outbox)
    .where(and(eq(outbox.channel, channel), gt(outbox.offset, after), lte(outbox.offset, upTo)))
    .orderBy(asc(outbox.offset));
  return rows.map(toStoredEvent);
}

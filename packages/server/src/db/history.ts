/**
 * Reads of a channel's history: the outbox rows of the channel by offset (kept OUTBOX_RETENTION_HOURS after they
 * were published) and its head, the last offset and the epoch in realtime.channel_offsets.
 */
import { and, asc, eq, gt, inArray, lte, sql } from 'drizzle-orm';
import { queryRows, type Queryable } from './client.ts';
import { toStoredEvent, type StoredEvent } from './outbox.ts';
import { authState, type UserAuthState } from './token-not-before.ts';
import { channelOffsets, outbox } from './schema.ts';

/** Where a channel's history stands: the offset of its last committed event (0: none yet) and its epoch. */
export interface ChannelHead {
  readonly offset: number;
  readonly epoch: string;
}

/** A head as `ensureChannelHeads` reads it: for a user's channel (`user_<id>`), with that user's auth state. */
export interface ChannelHeadRead extends ChannelHead {
  /**
   * Read in the same statement (one snapshot) as the head: a disconnect that committed before the read shows here,
   * one that commits after it has an offset above the head.
   */
  readonly user?: UserAuthState;
}

const USER_CHANNEL_PREFIX = 'user_';

/**
 * The heads of the given channels, in one statement for all of them. A channel without events gets its counter row
 * (offset 0, a new epoch) here, so the epoch a subscriber is told now is the one its first events will carry.
 */
export async function ensureChannelHeads(db: Queryable, channels: readonly string[]): Promise<Map<string, ChannelHeadRead>> {
  const heads = new Map<string, ChannelHeadRead>();
  // Two nodes creating the same row at once: the one that waited on the other's insert gets nothing back from
  // `do nothing`, and its select runs on a snapshot taken before that insert committed, so it finds no row either.
  // The row exists by then; a second statement (a new snapshot) reads it.
  let missing = [...new Set(channels)];
  for (let attempt = 1; missing.length > 0; attempt++) {
    if (attempt > 3) throw new Error(`channel head of ${missing[0]}: no row after ${attempt - 1} attempts`);
    const rows = await queryRows<HeadRow>(
      db,
      sql`with wanted as (select unnest(${sql.param(missing)}::text[]) as channel),
          created as (
            insert into realtime.channel_offsets (channel, last_offset)
            select channel, 0 from wanted order by channel
            on conflict (channel) do nothing
            returning channel, last_offset, epoch
          ),
          heads as (
            select channel, last_offset, epoch from created
            union all
            select o.channel, o.last_offset, o.epoch from realtime.channel_offsets o join wanted using (channel)
          )
          select h.channel, h.last_offset, h.epoch, u.user_exists, u.not_before
          from heads h
          left join lateral (
            select exists (select 1 from "users" where "id" = u.id) as user_exists,
                   (select not_before from realtime.token_not_before where user_id = u.id) as not_before
            from (select substr(h.channel, ${USER_CHANNEL_PREFIX.length + 1}) as id) u
          ) u on starts_with(h.channel, ${USER_CHANNEL_PREFIX})`,
    );
    for (const row of rows) heads.set(row.channel, toHeadRead(row));
    missing = missing.filter((channel) => !heads.has(channel));
  }
  return heads;
}

interface HeadRow {
  channel: string;
  last_offset: string | number;
  epoch: string;
  /** Null for a channel that is not a user's. */
  user_exists: boolean | null;
  not_before: Date | string | null;
}

function toHeadRead(row: HeadRow): ChannelHeadRead {
  const head = { offset: Number(row.last_offset), epoch: row.epoch };
  if (row.user_exists === null) return head;
  return { ...head, user: authState(row.user_exists, row.not_before) };
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

/**
 * A channel's history as this node reads it: the bounded event cache first, the outbox (db/history.ts) for the rest.
 * Answers recoveries (`since`) and the hub's own gap fills, and never a partial range: a range with any event
 * missing (pruned after OUTBOX_RETENTION_HOURS) comes back as null.
 */
import type { StreamPosition } from '@fonana-realtime/protocol';
import type { BrokerMessage } from '../broker/broker.ts';
import type { Database } from '../db/client.ts';
import { BatchedLookup } from '../cache/batched-lookup.ts';
import { channelEvents, channelHeads, ensureChannelHeads, type ChannelHead, type ChannelHeadRead } from '../db/history.ts';
import type { Metrics } from '../metrics.ts';
import { toBrokerMessage } from '../outbox/relay.ts';
import type { EventCache } from './event-cache.ts';

export type { ChannelHead, ChannelHeadRead } from '../db/history.ts';

export interface HistoryOptions {
  readonly db: Database;
  readonly cache: EventCache;
  readonly metrics: Metrics;
  /** Most events one recovery replays (RECOVERY_MAX_EVENTS); a longer gap is not recovered. */
  readonly maxRecoveryEvents: number;
}

/**
 * The outcome of a `since`: either every missed event (`recovered: true`) or none. `offset` is where live
 * delivery continues for the subscriber: events after it follow.
 */
export type Recovery =
  | { readonly recovered: true; readonly events: readonly BrokerMessage[]; readonly offset: number }
  | { readonly recovered: false; readonly offset: number };

export class History {
  readonly #options: HistoryOptions;
  /**
   * The heads asked for in one event-loop turn (a connect storm's users' channels), and while a read runs all those
   * asked meanwhile (one read in flight at a time), are read in one statement; never remembered.
   */
  readonly #heads: BatchedLookup<ChannelHeadRead>;

  constructor(options: HistoryOptions) {
    this.#options = options;
    this.#heads = new BatchedLookup(
      (channels) => {
        this.#options.metrics.historyQueries.inc({ kind: 'head' });
        return ensureChannelHeads(this.#options.db.orm, channels);
      },
      { ttlMs: 0, maxEntries: 0, maxInFlight: 1 },
    );
  }

  /** Keeps an event this node received in order, for later recoveries and gap fills. */
  record(message: BrokerMessage): void {
    this.#options.cache.add(message);
  }

  /**
   * The channel's head in the database (a channel with no events gets its epoch now); a user's channel's comes with
   * the user's auth state, read in the same statement.
   */
  async head(channel: string): Promise<ChannelHeadRead> {
    return (await this.#heads.get(channel))!;
  }

  /** The heads of many channels in one query. */
  async heads(channels: readonly string[]): Promise<Map<string, ChannelHead>> {
    this.#options.metrics.historyQueries.inc({ kind: 'heads' });
    return channelHeads(this.#options.db.orm, channels);
  }

  /** Every event with `after < offset <= upTo`, from the cache when it holds them all, else the outbox; null when any is gone. */
  async range(channel: string, after: number, upTo: number): Promise<readonly BrokerMessage[] | null> {
    const cached = this.#options.cache.range(channel, after, upTo);
    if (cached) {
      this.#options.metrics.historyReads.inc({ source: 'cache' });
      return cached;
    }
    this.#options.metrics.historyReads.inc({ source: 'database' });
    this.#options.metrics.historyQueries.inc({ kind: 'events' });
    const rows = await channelEvents(this.#options.db.orm, channel, after, upTo);
    if (rows.length !== upTo - after || rows[0]?.offset !== after + 1 || rows[rows.length - 1]!.offset !== upTo) return null;
    return rows.map(toBrokerMessage);
  }

  /**
   * Recovers a subscriber at `since` against `head`, this node's position in the channel (what it has delivered).
   * Not recovered when the epoch differs, the gap is longer than RECOVERY_MAX_EVENTS, or an event of it was pruned.
   * A client ahead of this node (it came from a node further along) is recovered with no events when the database
   * confirms its position; live delivery to it then resumes after `since`.
   */
  async recover(channel: string, since: StreamPosition, head: ChannelHead): Promise<Recovery> {
    const outcome = await this.#recover(channel, since, head);
    this.#options.metrics.recoveries.inc({ result: outcome.recovered ? 'recovered' : 'not_recovered' });
    return outcome;
  }

  async #recover(channel: string, since: StreamPosition, head: ChannelHead): Promise<Recovery> {
    const notRecovered: Recovery = { recovered: false, offset: head.offset };
    if (since.epoch !== head.epoch) return notRecovered;
    if (since.offset > head.offset) {
      const stored = (await this.heads([channel])).get(channel);
      const known = stored !== undefined && stored.epoch === since.epoch && stored.offset >= since.offset;
      return known ? { recovered: true, events: [], offset: since.offset } : notRecovered;
    }
    if (head.offset - since.offset > this.#options.maxRecoveryEvents) return notRecovered;
    const events = await this.range(channel, since.offset, head.offset);
    return events ? { recovered: true, events, offset: head.offset } : notRecovered;
  }
}

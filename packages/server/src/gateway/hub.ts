/**
 * The registry that fans events out on one node, and the place where each channel's stream is kept gap-free.
 *
 * A channel this node serves (a subscribed channel, or `user_<id>` while the user has a socket here) has a stream:
 * its epoch and `delivered`, the offset of the last event handed to its sockets. Events are delivered strictly in
 * offset order: a duplicate (offset ≤ delivered) is dropped; an event after a hole is held while the hole is filled
 * from history, then everything goes out in order. A hole that cannot be filled (pruned, epoch changed, too long)
 * ends the channel's subscriptions with `unsubscribed` reason `resync`.
 *
 * A socket joins a stream as a joiner: from the moment it is registered, live events for it are buffered; its
 * replay (if `since` was recovered) is sent, then the buffer, skipping what the replay covered, and it becomes a
 * plain member. So nothing is skipped or repeated between replay and live.
 *
 * ```
 * broker ──deliver──▶ accept (order by offset) ──▶ emit ──▶ members: send   joiners: buffer / send after floor
 *                          │ hole                   └──▶ cache (history.record), entitlement re-check
 *                          └──▶ held ──fill from history──▶ emit…
 * ```
 */
import { channelObject, ChannelTypes, EventTypes, type Channel, type StreamPosition } from '@fonana-realtime/protocol';
import type { Broker, BrokerMessage } from '../broker/broker.ts';
import type { UserAuthState } from '../db/token-not-before.ts';
import { INTERNAL_EVENT_PREFIX } from '../domain/events.ts';
import type { History } from '../history/history.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Connection } from './connection.ts';
import { SmallSet, type ReadonlySmallSet } from './small-set.ts';

const USER_PREFIX = 'user_';
/** Events after which a user's `post` subscriptions are checked again. */
const ENTITLEMENT_EVENTS: ReadonlySet<string> = new Set([EventTypes.POST_PURCHASED, EventTypes.SUBSCRIPTION_UPDATED]);
const EMPTY: ReadonlySmallSet<Connection> = new SmallSet();
/** `held` of every stream that holds nothing (frozen: an insert must replace it). */
const NOTHING_HELD: BrokerMessage[] = Object.freeze([]) as unknown as BrokerMessage[];
/** Events one channel may hold back while a hole before them is filled; more means resync. */
const MAX_HELD_EVENTS = 10_000;
/** Longest hole a node fills from history for its own stream; a longer one means resync. */
const MAX_GAP_FILL = 10_000;
/**
 * How long a hole may stay open before it is filled from history. Events of one channel committed by concurrent
 * requests are published as each commits (outbox/committed-publisher.ts), so an event often comes a moment before
 * the one ahead of it; that one usually arrives within this time, and no history read is needed.
 */
const FILL_GRACE_MS = 20;
/** Waits between attempts to fill a hole while history cannot be read; after the last, resync. */
const FILL_RETRY_DELAYS_MS = [100, 500, 2000];
/** Channels per query when comparing every served channel with history after a broker reconnect. */
const CATCH_UP_BATCH = 1000;

export interface HubOptions {
  readonly metrics: Metrics;
  readonly history: History;
  readonly logger: Logger;
  /** Called after an entitlement event was delivered on a user's channel on this node (live or filled). */
  readonly onEntitlementChange: (userId: string) => void;
  /**
   * Called with internal events (type `_…`, e.g. `_disconnect`) in their place in the stream (live or filled);
   * they are never sent to sockets, neither live nor in a replay.
   */
  readonly onInternalEvent?: (message: BrokerMessage) => void;
  /**
   * Called with a user's auth state each time the head of the user's channel is read (the user's first socket here,
   * a resync), before any socket is told that head: the state comes from the same statement as the head, so a
   * disconnect committed before the read shows in it, and one committed after it arrives as an event.
   */
  readonly onUserHead?: (userId: string, state: UserAuthState) => void;
  /**
   * Routes to this node the channels it serves: taken when a channel's stream is created (a user's first socket, a
   * channel's first subscriber), dropped when it ends. A stream reads its head only once the route is in place, so
   * every event after the head reaches it.
   */
  readonly routing: Pick<Broker, 'addChannels' | 'removeChannels'>;
}

/** What a joining socket is told before its replay: where its stream continues, and whether `since` was recovered. */
export interface JoinPosition {
  readonly offset: number;
  readonly epoch: string;
  readonly recovered?: boolean;
}

interface Joiner {
  /** Live events that arrived while the replay was read; null once the replay is sent. */
  buffer: BrokerMessage[] | null;
  /** Events at or below this offset are not sent to the joiner (its replay or its `since` covered them). */
  floor: number;
}

class ChannelStream {
  readonly key: string;
  /**
   * The channel, made once per stream: every subscribed socket's `channels` map holds this object and `key` rather
   * than copies of its own (an idle socket's heap is mostly such per-socket state: bench/RESULTS.md, idle memory).
   */
  readonly channel: Channel;
  /** The user of a `user_<id>` stream, else null. */
  readonly userId: string | null;
  epoch = '';
  /** Offset of the last event emitted; -1 until the head is loaded from history. */
  delivered = -1;
  loading: Promise<void> | null = null;
  /** Events beyond a hole (or that arrived before the head was loaded), sorted by offset. */
  held: BrokerMessage[] = NOTHING_HELD;
  /** Highest offset known to exist in history (from a catch-up); filled up to even without a later live event. */
  fillTarget = 0;
  filling = false;
  readonly members = new SmallSet<Connection>();
  /** Sockets still joining; null when there are none (most streams, most of the time: an empty Map keeps its table). */
  joiners: Map<Connection, Joiner> | null = null;
  /** Subscriptions plus, for a user stream, the user's sockets on this node. */
  refs = 0;
  /** Settles once the broker routes the channel here (never rejects); null once it has. */
  routed: Promise<void> | null = null;

  constructor(key: string) {
    this.key = key;
    // From the key (`<type>_<id>`): the type as the protocol's own constant, the id as a slice of the key, so neither
    // keeps the frame the channel came from.
    const separator = key.indexOf('_');
    const type = ChannelTypes.find((t) => t.length === separator && key.startsWith(t))!;
    this.channel = { type, id: key.slice(separator + 1) };
    this.userId = type === 'user' ? this.channel.id : null;
  }

  removeJoiner(conn: Connection): boolean {
    if (!this.joiners?.delete(conn)) return false;
    if (this.joiners.size === 0) this.joiners = null;
    return true;
  }
}

export class Hub {
  readonly #byUser = new Map<string, SmallSet<Connection>>();
  readonly #streams = new Map<string, ChannelStream>();
  readonly #options: HubOptions;

  constructor(options: HubOptions) {
    this.#options = options;
  }

  userConnections(userId: string): ReadonlySmallSet<Connection> {
    return this.#byUser.get(userId) ?? EMPTY;
  }

  /** Whether this node has read the head of the user's channel (it serves the channel, and no read of it is pending). */
  userHeadLoaded(userId: string): boolean {
    return (this.#streams.get(USER_PREFIX + userId)?.delivered ?? -1) >= 0;
  }

  /** Registers an authenticated socket; its user's channel is served from now on (join it to receive it). */
  addConnection(conn: Connection): void {
    const userId = conn.userId!;
    let set = this.#byUser.get(userId);
    if (!set) this.#byUser.set(userId, (set = new SmallSet()));
    set.add(conn);
    this.#retain(USER_PREFIX + userId);
    this.#options.metrics.connections.inc();
  }

  /** Removes a connection and all of its subscriptions. */
  removeConnection(conn: Connection): void {
    const set = conn.userId === null ? undefined : this.#byUser.get(conn.userId);
    if (!set?.delete(conn)) return;
    if (set.size === 0) this.#byUser.delete(conn.userId!);
    for (const key of [...conn.channels.keys()]) this.unsubscribe(conn, key);
    this.#release(this.#streams.get(USER_PREFIX + conn.userId)!);
    this.#options.metrics.connections.dec();
  }

  /**
   * Subscribes `conn` to the channel `key` (again, if it was: a re-subscribe recovers anew). Waits for the
   * channel's head, recovers `since` when given, then calls `announce` (which sends `subscribed` or `connected`),
   * sends the replay and hands the socket over to live delivery, all in one synchronous step.
   * Resolves false, having sent nothing, when the subscription ended while it was being set up (socket closed,
   * access revoked, resync). Rejects when history cannot be read; the socket is then not subscribed.
   */
  async join(
    conn: Connection,
    key: string,
    channel: Channel,
    since: StreamPosition | undefined,
    announce: (position: JoinPosition) => void,
  ): Promise<boolean> {
    const stream = this.#retain(key);
    this.unsubscribe(conn, key);
    const joiner: Joiner = { buffer: [], floor: 0 };
    conn.channels.set(stream.key, stream.channel);
    (stream.joiners ??= new Map()).set(conn, joiner);
    this.#options.metrics.subscriptions.inc({ channel_type: channel.type });
    try {
      await this.#load(stream);
      if (this.#joinEnded(stream, conn, joiner)) return false;
      const head = { offset: stream.delivered, epoch: stream.epoch };
      const recovery = since ? await this.#options.history.recover(key, since, head) : null;
      if (this.#joinEnded(stream, conn, joiner)) return false;
      announce({
        offset: recovery?.offset ?? head.offset,
        epoch: head.epoch,
        ...(recovery ? { recovered: recovery.recovered } : {}),
      });
      if (recovery?.recovered) this.#sendAll(conn, recovery.events);
      joiner.floor = recovery?.offset ?? head.offset;
      const buffered = joiner.buffer!;
      joiner.buffer = null;
      this.#sendAll(conn, buffered.filter((m) => m.offset > joiner.floor));
      if (stream.delivered >= joiner.floor) {
        stream.removeJoiner(conn);
        stream.members.add(conn);
      }
      return true;
    } catch (err) {
      if (this.#stillJoining(stream, conn, joiner)) this.unsubscribe(conn, key);
      throw err;
    }
  }

  #stillJoining(stream: ChannelStream, conn: Connection, joiner: Joiner): boolean {
    return stream.joiners?.get(conn) === joiner && this.#streams.get(stream.key) === stream;
  }

  /** Whether a join is over; a socket closed meanwhile (say, refused by `onUserHead`) leaves the stream now, not when its close completes. */
  #joinEnded(stream: ChannelStream, conn: Connection, joiner: Joiner): boolean {
    if (conn.state === 'closing' && this.#stillJoining(stream, conn, joiner)) this.unsubscribe(conn, stream.key);
    return !this.#stillJoining(stream, conn, joiner);
  }

  /** Removes a subscription; false when the connection did not have it. */
  unsubscribe(conn: Connection, key: string): boolean {
    const channel = conn.channels.get(key);
    if (!channel) return false;
    conn.channels.delete(key);
    const stream = this.#streams.get(key);
    if (stream && (stream.members.delete(conn) || stream.removeJoiner(conn))) this.#release(stream);
    this.#options.metrics.subscriptions.dec({ channel_type: channel.type });
    return true;
  }

  /**
   * hot path: takes one broker message. Events of channels this node serves go through the ordered stream; the
   * others only feed the history cache. Returns the sockets the event reached right away.
   */
  deliver(message: BrokerMessage): number {
    const stream = this.#streams.get(message.channel);
    if (!stream) {
      this.#options.history.record(message);
      return 0;
    }
    return this.#accept(stream, message);
  }

  /**
   * After the broker's subscription came back from a loss: compares every channel served here with history (one
   * query per 1000 channels) and fills whatever was published meanwhile. Retries while the database cannot answer.
   */
  async catchUp(): Promise<void> {
    const keys = [...this.#streams.values()].filter((s) => s.delivered >= 0).map((s) => s.key);
    for (let i = 0; i < keys.length; i += CATCH_UP_BATCH) {
      const batch = keys.slice(i, i + CATCH_UP_BATCH);
      const heads = await withRetries(() => this.#options.history.heads(batch)).catch((err: unknown) => {
        this.#options.logger.error({ err, channels: batch.length }, 'could not compare channels with history after a broker reconnect');
        return null;
      });
      if (!heads) {
        for (const key of batch) this.#resyncIfServed(key);
        continue;
      }
      for (const [key, head] of heads) {
        const stream = this.#streams.get(key);
        if (!stream || stream.delivered < 0) continue;
        if (head.epoch !== stream.epoch) {
          this.#resync(stream);
        } else if (head.offset > stream.delivered) {
          stream.fillTarget = Math.max(stream.fillTarget, head.offset);
          this.#startFill(stream);
        }
      }
    }
  }

  /** The offset this node has delivered on `key`, or null when it does not serve the channel (tests, metrics). */
  deliveredOffset(key: string): number | null {
    const stream = this.#streams.get(key);
    return stream && stream.delivered >= 0 ? stream.delivered : null;
  }

  #retain(key: string): ChannelStream {
    let stream = this.#streams.get(key);
    if (!stream) {
      const created = (stream = new ChannelStream(key));
      this.#streams.set(key, created);
      const routed = this.#options.routing.addChannels([key]);
      created.routed = routed;
      void routed.then(() => {
        if (created.routed === routed) created.routed = null;
      });
    }
    stream.refs++;
    return stream;
  }

  #release(stream: ChannelStream): void {
    if (--stream.refs > 0) return;
    if (this.#streams.get(stream.key) !== stream) return;
    this.#streams.delete(stream.key);
    void this.#options.routing.removeChannels([stream.key]);
  }

  /** Loads the stream's head once (concurrent joiners share the query); a failed load is tried again by the next. */
  #load(stream: ChannelStream): Promise<void> {
    if (stream.delivered >= 0) return Promise.resolve();
    stream.loading ??= (async () => {
      try {
        await stream.routed;
        const head = await this.#options.history.head(stream.key);
        stream.epoch = head.epoch;
        stream.delivered = head.offset;
        if (stream.userId !== null && head.user) this.#options.onUserHead?.(stream.userId, head.user);
        const held = stream.held;
        stream.held = NOTHING_HELD;
        for (const message of held) this.#accept(stream, message);
      } finally {
        stream.loading = null;
      }
    })();
    return stream.loading;
  }

  /** hot path: orders one event of a served channel. */
  #accept(stream: ChannelStream, message: BrokerMessage): number {
    if (stream.delivered < 0) {
      this.#hold(stream, message);
      return 0;
    }
    if (message.offset <= stream.delivered) return 0;
    if (message.offset === stream.delivered + 1 && stream.held.length === 0) return this.#emit(stream, message);
    this.#hold(stream, message);
    this.#drainHeld(stream);
    if (stream.held.length > 0) this.#startFill(stream);
    return 0;
  }

  #hold(stream: ChannelStream, message: BrokerMessage): void {
    if (stream.held === NOTHING_HELD) stream.held = [];
    const held = stream.held;
    let i = held.length;
    while (i > 0 && held[i - 1]!.offset > message.offset) i--;
    if (i > 0 && held[i - 1]!.offset === message.offset) return;
    held.splice(i, 0, message);
    if (held.length <= MAX_HELD_EVENTS) return;
    if (stream.delivered < 0) held.shift(); // the head is not loaded yet: the oldest is refilled from history
    else this.#resync(stream);
  }

  #drainHeld(stream: ChannelStream): void {
    const held = stream.held;
    let i = 0;
    while (i < held.length && held[i]!.offset <= stream.delivered + 1) {
      if (held[i]!.offset === stream.delivered + 1) this.#emit(stream, held[i]!);
      i++;
    }
    if (i > 0) held.splice(0, i);
  }

  #startFill(stream: ChannelStream): void {
    if (stream.filling) return;
    stream.filling = true;
    setTimeout(() => {
      void this.#fill(stream).finally(() => {
        stream.filling = false;
      });
    }, FILL_GRACE_MS).unref();
  }

  /** Fills the stream's holes from history until nothing is held or the stream is gone; resync when it cannot. */
  async #fill(stream: ChannelStream): Promise<void> {
    let failures = 0;
    while (this.#streams.get(stream.key) === stream && stream.delivered >= 0) {
      const target = Math.max(stream.fillTarget, (stream.held[0]?.offset ?? 0) - 1);
      const from = stream.delivered;
      if (target <= from) return;
      if (target - from > MAX_GAP_FILL) return this.#resync(stream);
      let events: readonly BrokerMessage[] | null;
      try {
        events = await this.#options.history.range(stream.key, from, target);
      } catch (err) {
        if (failures >= FILL_RETRY_DELAYS_MS.length) {
          this.#options.logger.error({ err, channel: stream.key }, 'could not fill a gap from history; resync');
          return this.#resync(stream);
        }
        await sleep(FILL_RETRY_DELAYS_MS[failures++]!);
        continue;
      }
      if (this.#streams.get(stream.key) !== stream || stream.delivered < 0) return;
      if (events === null) {
        this.#options.logger.warn({ channel: stream.key, after: from, upTo: target }, 'events of a gap are no longer in history; resync');
        return this.#resync(stream);
      }
      for (const event of events) if (event.offset === stream.delivered + 1) this.#emit(stream, event);
      this.#options.metrics.gapFills.inc({ result: 'filled' });
      this.#drainHeld(stream);
    }
  }

  /**
   * hot path: hands one in-order event to the stream's sockets; the bytes are made once for all of them.
   * Returns the sockets it was sent to.
   */
  #emit(stream: ChannelStream, message: BrokerMessage): number {
    stream.delivered = message.offset;
    this.#options.history.record(message);
    if (message.type.startsWith(INTERNAL_EVENT_PREFIX)) {
      this.#options.onInternalEvent?.(message);
      return 0;
    }
    let sent = 0;
    const joiners = stream.joiners;
    if (stream.members.size > 0 || joiners) {
      const bytes = Buffer.from(message.encoded);
      for (const conn of stream.members) if (conn.sendEncoded(bytes)) sent++;
      if (joiners) {
        for (const [conn, joiner] of joiners) {
          if (joiner.buffer) {
            joiner.buffer.push(message);
            continue;
          }
          if (message.offset > joiner.floor && conn.sendEncoded(bytes)) sent++;
          if (message.offset >= joiner.floor) {
            joiners.delete(conn);
            stream.members.add(conn);
          }
        }
        if (joiners.size === 0 && stream.joiners === joiners) stream.joiners = null;
      }
      this.#options.metrics.eventsDelivered.inc(sent);
      this.#options.metrics.framesOut.inc(sent);
    }
    if (stream.userId !== null && ENTITLEMENT_EVENTS.has(message.type)) this.#entitlementChanged(stream.userId);
    return sent;
  }

  #entitlementChanged(userId: string): void {
    for (const conn of this.userConnections(userId)) conn.entitlementEpoch++;
    this.#options.onEntitlementChange(userId);
  }

  #sendAll(conn: Connection, messages: readonly BrokerMessage[]): void {
    let sent = 0;
    for (const message of messages) {
      if (!message.type.startsWith(INTERNAL_EVENT_PREFIX) && conn.sendEncoded(message.encoded)) sent++;
    }
    this.#options.metrics.eventsDelivered.inc(sent);
    this.#options.metrics.framesOut.inc(sent);
  }

  #resyncIfServed(key: string): void {
    const stream = this.#streams.get(key);
    if (stream) this.#resync(stream);
  }

  /**
   * The stream lost events it cannot get back: every subscription to it ends with `unsubscribed` reason `resync`
   * (the client resubscribes with `since`), and the stream starts again from history's head. For a user's channel
   * the user's post subscriptions are re-checked too, since an entitlement event may have been among the lost.
   */
  #resync(stream: ChannelStream): void {
    this.#options.metrics.gapFills.inc({ result: 'resync' });
    const sockets = [...stream.members, ...(stream.joiners?.keys() ?? [])];
    for (const conn of sockets) {
      const channel = conn.channels.get(stream.key);
      if (!channel || !this.unsubscribe(conn, stream.key)) continue;
      conn.sendFrame({
        type: 'unsubscribed',
        data: { channel: channelObject(channel), channelKey: stream.key, reason: 'resync' },
      });
    }
    stream.held = NOTHING_HELD;
    stream.fillTarget = 0;
    stream.delivered = -1;
    if (this.#streams.get(stream.key) !== stream) return;
    this.#load(stream).catch((err: unknown) => {
      this.#options.logger.warn({ err, channel: stream.key }, 'could not read the head of a channel after a resync');
    });
    if (stream.userId !== null) this.#entitlementChanged(stream.userId);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withRetries<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= FILL_RETRY_DELAYS_MS.length) throw err;
      await sleep(FILL_RETRY_DELAYS_MS[attempt]!);
    }
  }
}

/**
 * The registry that fans events out on one node: sockets by user and by channel.
 * A user may have many sockets (tabs, devices); each is registered on its own, so closing one leaves the others.
 * Events on `user_<id>` reach every socket of that user; other events reach the sockets subscribed to their channel.
 */
import { EventTypes, type Channel } from '@fonana-realtime/protocol';
import type { Broker, BrokerMessage } from '../broker/broker.ts';
import { INTERNAL_EVENT_PREFIX } from '../domain/events.ts';
import type { Metrics } from '../metrics.ts';
import type { Connection } from './connection.ts';
import { RecentIds } from './recent-ids.ts';

const USER_PREFIX = 'user_';
/** Events after which a user's `post` subscriptions are checked again. */
const ENTITLEMENT_EVENTS: ReadonlySet<string> = new Set([EventTypes.POST_PURCHASED, EventTypes.SUBSCRIPTION_UPDATED]);
const EMPTY: ReadonlySet<Connection> = new Set();

export interface HubOptions {
  readonly metrics: Metrics;
  /** Called after an entitlement event was delivered to a user's sockets on this node. */
  readonly onEntitlementChange: (userId: string) => void;
  /** Called with internal events (type `_…`, e.g. `_disconnect`), which are never sent to sockets. */
  readonly onInternalEvent?: (message: BrokerMessage) => void;
  /** How many recent event ids are remembered to drop duplicates. Default 10,000. */
  readonly dedupeWindow?: number;
  /** Routes to this node the channels it has sockets for: a user's channel from their first socket, others from their first subscriber. */
  readonly routing: Pick<Broker, 'addChannels' | 'removeChannels'>;
}

export class Hub {
  readonly #byUser = new Map<string, Set<Connection>>();
  readonly #byChannel = new Map<string, Set<Connection>>();
  readonly #seen: RecentIds;
  readonly #options: HubOptions;
  /** Channels whose route to this node is being taken: `whenRouted` waits for it. */
  readonly #routing = new Map<string, Promise<void>>();

  constructor(options: HubOptions) {
    this.#options = options;
    this.#seen = new RecentIds(options.dedupeWindow ?? 10_000);
  }

  userConnections(userId: string): ReadonlySet<Connection> {
    return this.#byUser.get(userId) ?? EMPTY;
  }

  addConnection(conn: Connection): void {
    const userId = conn.userId!;
    let set = this.#byUser.get(userId);
    if (!set) {
      this.#byUser.set(userId, (set = new Set()));
      this.#route(USER_PREFIX + userId);
    }
    set.add(conn);
    this.#options.metrics.connections.inc();
  }

  /** Resolves once the broker routes the channel's events to this node (at once when it already does). Never rejects. */
  whenRouted(key: string): Promise<void> {
    return this.#routing.get(key) ?? Promise.resolve();
  }

  #route(key: string): void {
    const routed = this.#options.routing.addChannels([key]).finally(() => {
      if (this.#routing.get(key) === routed) this.#routing.delete(key);
    });
    this.#routing.set(key, routed);
  }

  #unroute(key: string): void {
    this.#routing.delete(key);
    void this.#options.routing.removeChannels([key]);
  }

  /** Removes a connection and all of its subscriptions. */
  removeConnection(conn: Connection): void {
    const set = conn.userId === null ? undefined : this.#byUser.get(conn.userId);
    if (!set?.delete(conn)) return;
    if (set.size === 0) {
      this.#byUser.delete(conn.userId!);
      this.#unroute(USER_PREFIX + conn.userId!);
    }
    for (const key of [...conn.channels.keys()]) this.unsubscribe(conn, key);
    this.#options.metrics.connections.dec();
  }

  /** Adds a subscription; false when the connection already had it. */
  subscribe(conn: Connection, key: string, channel: Channel): boolean {
    if (conn.channels.has(key)) return false;
    conn.channels.set(key, channel);
    let set = this.#byChannel.get(key);
    if (!set) {
      this.#byChannel.set(key, (set = new Set()));
      this.#route(key);
    }
    set.add(conn);
    this.#options.metrics.subscriptions.inc({ channel_type: channel.type });
    return true;
  }

  /** Removes a subscription; false when the connection did not have it. */
  unsubscribe(conn: Connection, key: string): boolean {
    const channel = conn.channels.get(key);
    if (!channel) return false;
    conn.channels.delete(key);
    const set = this.#byChannel.get(key);
    set?.delete(conn);
    if (set?.size === 0) {
      this.#byChannel.delete(key);
      this.#unroute(key);
    }
    this.#options.metrics.subscriptions.dec({ channel_type: channel.type });
    return true;
  }

  /**
   * hot path: delivers one broker message to the local sockets it is for, once per event id.
   * The frame is turned into bytes once and the same buffer goes to every socket. Returns the sockets reached.
   */
  deliver(message: BrokerMessage): number {
    if (!this.#seen.add(message.id)) return 0;
    if (message.type.startsWith(INTERNAL_EVENT_PREFIX)) {
      this.#options.onInternalEvent?.(message);
      return 0;
    }
    const isUserEvent = message.channel.startsWith(USER_PREFIX);
    const targets = isUserEvent
      ? this.#byUser.get(message.channel.slice(USER_PREFIX.length))
      : this.#byChannel.get(message.channel);
    let sent = 0;
    if (targets && targets.size > 0) {
      const bytes = Buffer.from(message.encoded);
      for (const conn of targets) if (conn.sendEncoded(bytes)) sent++;
      this.#options.metrics.eventsDelivered.inc(sent);
      this.#options.metrics.framesOut.inc(sent);
    }
    if (isUserEvent && targets && ENTITLEMENT_EVENTS.has(message.type)) {
      for (const conn of targets) conn.entitlementEpoch++;
      this.#options.onEntitlementChange(message.channel.slice(USER_PREFIX.length));
    }
    return sent;
  }
}

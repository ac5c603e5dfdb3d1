import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import {
  dispatch,
  warnOnError,
  type Broker,
  type BrokerErrorHandler,
  type BrokerHandler,
  type BrokerMessage,
  type SubscribeOptions,
} from './broker.ts';

/** Options of {@link RedisBroker}. */
export interface RedisBrokerOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`; there is no default host. */
  url: string;
  /** Prefix of the pub/sub channels (`${prefix}c:<channel key>`) and of the connection names. Default `'fonana-realtime:'`. */
  prefix?: string;
  /** Longest a `publish()` may take, connecting included, before it rejects; also Redis's per-command timeout. Default 2000 ms. */
  publishTimeoutMs?: number;
  /**
   * Interval of the subscriber's PING. A connection that has not answered by the next tick is taken for
   * dead (a half-open TCP connection otherwise looks subscribed forever) and is reconnected. Default 5000 ms.
   */
  heartbeatMs?: number;
  /**
   * Receives connection trouble (once per connection going down, not per reconnect attempt), malformed
   * payloads and handler exceptions. Default: a process warning.
   */
  onError?: BrokerErrorHandler;
  /** Told when a connection that was reported down works again. Default: nothing. */
  onRecovered?: (message: string) => void;
}

/** First element of every payload header; a payload in another format is reported and skipped. */
const PAYLOAD_VERSION = 1;

/** Channels per SUBSCRIBE / UNSUBSCRIBE command, so one request stays small however many channels change at once. */
const CHANNELS_PER_COMMAND = 1000;

/**
 * How long a closing socket may wait for the server's FIN before it is destroyed (ioredis default 2000 ms).
 * A live Redis answers within milliseconds; a dead one should not hold up a reconnect or a shutdown.
 * ioredis also arms this timer when disconnecting a client that is between reconnect attempts, where it
 * only keeps the process alive: https://github.com/redis/ioredis/issues/1247
 */
const DISCONNECT_TIMEOUT_MS = 250;

/**
 * Broker over Redis pub/sub with one Redis channel per channel key, `${prefix}c:<key>`, and two
 * connections: a publisher and a subscriber. A node subscribes only to the channels its hub added, so it
 * receives only their messages. Each message is one PUBLISH whose payload is a small JSON header, a
 * newline, then the frame:
 *
 * ```
 * [1,"<id>","<channel>","<type>",<offset>]\n{"type":…,"id":…,…}
 * ```
 *
 * JSON never contains a raw newline, so the first newline ends the header; the frame after it is passed on
 * as it came, never parsed. Behaviour around failures:
 * - Nothing connects until `subscribe()` or the first `publish()`, and neither depends on Redis being up
 *   at that moment; both connections reconnect by themselves (ioredis: backoff up to 2 s, forever).
 * - The publisher has no offline queue: while it is disconnected `publish()` rejects at once, and a
 *   publish on a connection that stopped answering rejects after `publishTimeoutMs` and replaces the
 *   connection. Commands lost with a connection are not re-sent by ioredis; the outbox relay retries
 *   them instead, so there is one source of retries.
 * - Channel changes are batched: every `addChannels`/`removeChannels` of one event-loop turn, and all
 *   that arrive while a command is in flight, go out together (at most {@link CHANNELS_PER_COMMAND} per
 *   command). The broker keeps the set of wanted channels itself (ioredis `autoResubscribe` is off): after
 *   every reconnect it subscribes all of them again, marks itself receiving and calls `onResubscribed`.
 *   What was published while it was down is lost to this node; the loss is reported to `onError`.
 * - Redis closes a subscriber whose output buffer passes `client-output-buffer-limit pubsub` (32 MiB by
 *   default): size it for the largest burst of frames a slow node may have to take.
 */
export class RedisBroker implements Broker {
  /** Random id of this broker; the connections are named `${prefix}pub:<id>` and `${prefix}sub:<id>` (see CLIENT LIST). */
  readonly instanceId: string = randomUUID();
  readonly #channelPrefix: string;
  readonly #publishTimeoutMs: number;
  readonly #heartbeatMs: number;
  readonly #onError: BrokerErrorHandler;
  readonly #onRecovered: (message: string) => void;
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #handlers: BrokerHandler[] = [];
  readonly #resubscribedListeners: (() => void)[] = [];
  /** Channel keys the hub wants routed here. */
  readonly #wanted = new Set<string>();
  /** Channel keys Redis confirmed on the current subscriber connection. */
  readonly #active = new Set<string>();
  /** Rejects when `close()` is called, so a subscription that is still waiting for Redis stops waiting. */
  readonly #closeSignal: Promise<never>;
  #signalClose: (err: Error) => void = ignore;
  /** Resolves the first time the subscriber is receiving. */
  readonly #firstReceiving: Promise<void>;
  #signalReceiving: () => void = ignore;
  #publisherStart: Promise<void> | null = null;
  #subscription: Promise<void> | null = null;
  /** Counts subscriber connections; a channel sync started on an older one is abandoned. */
  #connection = 0;
  #syncRequested = false;
  #sync: Promise<void> | null = null;
  /** A subscriber connection was fully subscribed before: the next one is a restore. */
  #receivedBefore = false;
  /** The subscriber is subscribed right now and answering. */
  #receiving = false;
  #publisherDown = false;
  #subscriberDown = false;
  /** The error that ended a working subscriber connection, for the line its 'close' logs. */
  #subscriberError: string | null = null;
  #pendingPing: Promise<unknown> | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #lastHeartbeat = 0;
  #closing: Promise<void> | null = null;

  constructor(options: RedisBrokerOptions) {
    const prefix = options.prefix ?? 'fonana-realtime:';
    this.#channelPrefix = `${prefix}c:`;
    this.#publishTimeoutMs = options.publishTimeoutMs ?? 2000;
    this.#heartbeatMs = options.heartbeatMs ?? 5000;
    this.#onError = options.onError ?? warnOnError;
    this.#onRecovered = options.onRecovered ?? ignore;
    this.#closeSignal = new Promise<never>((_, reject) => {
      this.#signalClose = reject;
    });
    this.#closeSignal.catch(ignore);
    this.#firstReceiving = new Promise<void>((resolve) => {
      this.#signalReceiving = resolve;
    });

    this.#publisher = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.#publishTimeoutMs,
      disconnectTimeout: DISCONNECT_TIMEOUT_MS,
      connectionName: `${prefix}pub:${this.instanceId}`,
    });
    this.#publisher.on('error', this.#publisherOnError);
    this.#publisher.on('ready', this.#publisherOnReady);

    this.#subscriber = new Redis(options.url, {
      lazyConnect: true,
      // The broker sends (UN)SUBSCRIBE itself, only on a ready connection, and again after each reconnect.
      enableOfflineQueue: false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: null,
      disconnectTimeout: DISCONNECT_TIMEOUT_MS,
      connectionName: `${prefix}sub:${this.instanceId}`,
    });
    this.#subscriber.on('error', this.#subscriberOnError);
    this.#subscriber.on('message', this.#subscriberOnMessage);
    this.#subscriber.on('ready', this.#subscriberOnReady);
    this.#subscriber.on('close', this.#subscriberOnClose);
  }

  /**
   * One pipelined write of one PUBLISH per message, bounded by `publishTimeoutMs`. On timeout the
   * publisher connection is replaced, since a connection that stopped answering would fail every retry.
   */
  async publish(messages: readonly BrokerMessage[]): Promise<void> {
    if (this.#closing) throw new Error('redis broker is closed; cannot publish');
    if (messages.length === 0) return;
    try {
      await withDeadline(this.#send(messages), this.#publishTimeoutMs);
    } catch (err) {
      if (err !== DEADLINE_PASSED) throw err;
      // ioredis keeps a connection that stopped answering (or never finished its handshake): replace it,
      // so the relay's retry gets a live one.
      const status = this.#publisher.status;
      if (status === 'ready' || status === 'connect') this.#publisher.disconnect(true);
      throw new Error(`redis broker: Redis did not confirm ${messages.length} published message(s) within ${this.#publishTimeoutMs} ms`);
    }
  }

  /** Adds a handler; the first call connects both connections and subscribes the channels added so far. */
  async subscribe(handler: BrokerHandler, options: SubscribeOptions = {}): Promise<void> {
    if (this.#closing) throw new Error('redis broker is closed; cannot subscribe');
    this.#handlers.push(handler);
    if (options.onResubscribed) this.#resubscribedListeners.push(options.onResubscribed);
    void this.#startPublisher();
    this.#subscription ??= this.#startSubscriber();
    await this.#subscription;
  }

  addChannels(keys: readonly string[]): Promise<void> {
    if (this.#closing) return Promise.resolve();
    for (const key of keys) this.#wanted.add(key);
    return this.#requestSync();
  }

  removeChannels(keys: readonly string[]): Promise<void> {
    if (this.#closing) return Promise.resolve();
    for (const key of keys) this.#wanted.delete(key);
    return this.#requestSync();
  }

  /** Channel keys Redis confirmed for this node right now (for tests and metrics). */
  get subscribedChannelCount(): number {
    return this.#active.size;
  }

  /** True while the publisher is connected and, once `subscribe()` was called, the subscriber is subscribed and answering. */
  isHealthy(): boolean {
    if (this.#closing || this.#publisher.status !== 'ready') return false;
    return this.#subscription === null || this.#receiving;
  }

  /** Waits for the publisher's replies to what it already sent (bounded), then closes both connections. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#receiving = false;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#signalClose(new Error('redis broker was closed before Redis confirmed the subscription'));
    await Promise.all([quitConnection(this.#publisher), disconnectConnection(this.#subscriber)]);
  }

  async #send(messages: readonly BrokerMessage[]): Promise<void> {
    await this.#startPublisher();
    const status = this.#publisher.status;
    if (status !== 'ready') throw new Error(`redis broker: cannot publish while the Redis connection is ${status}`);
    const pipeline = this.#publisher.pipeline();
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      pipeline.publish(this.#channelPrefix + message.channel, encodePayload(message));
    }
    const results = await pipeline.exec();
    if (results === null) throw new Error('redis broker: Redis discarded the publish pipeline');
    for (const [err] of results) if (err) throw err;
  }

  /** Connects on first use; settles (never rejects) once that attempt ends. Failures arrive through 'error'. */
  #startPublisher(): Promise<void> {
    this.#publisherStart ??= this.#publisher.connect().catch(ignore);
    return this.#publisherStart;
  }

  async #startSubscriber(): Promise<void> {
    this.#lastHeartbeat = performance.now();
    this.#heartbeat = setInterval(this.#heartbeatOnTick, this.#heartbeatMs).unref();
    this.#subscriber.connect().catch(ignore);
    await Promise.race([this.#firstReceiving, this.#closeSignal]);
  }

  /**
   * Brings Redis's subscriptions of this connection to the wanted set. Changes requested in the same turn,
   * or while a command is in flight, share one run. Settles (never rejects) once the set is reached, or
   * at once when the connection is not ready (the next 'ready' runs it again).
   */
  #requestSync(): Promise<void> {
    this.#syncRequested = true;
    this.#sync ??= this.#syncLoop();
    return this.#sync;
  }

  async #syncLoop(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.#syncRequested) {
      this.#syncRequested = false;
      if (this.#closing || this.#subscriber.status !== 'ready') break;
      const connection = this.#connection;
      const add = [...this.#wanted].filter((key) => !this.#active.has(key));
      const remove = [...this.#active].filter((key) => !this.#wanted.has(key));
      try {
        await this.#changeSubscriptions('subscribe', add, connection);
        await this.#changeSubscriptions('unsubscribe', remove, connection);
      } catch {
        // The connection went away mid-command; its 'close' reported it and its successor's 'ready' syncs again.
      }
    }
    // No await since the last check of #syncRequested: a request made from here on starts a new loop.
    this.#sync = null;
  }

  async #changeSubscriptions(command: 'subscribe' | 'unsubscribe', keys: readonly string[], connection: number): Promise<void> {
    for (let i = 0; i < keys.length && connection === this.#connection; i += CHANNELS_PER_COMMAND) {
      const chunk = keys.slice(i, i + CHANNELS_PER_COMMAND);
      await this.#subscriber[command](...chunk.map((key) => this.#channelPrefix + key));
      if (connection !== this.#connection) return;
      for (const key of chunk) {
        if (command === 'subscribe') this.#active.add(key);
        else this.#active.delete(key);
      }
    }
  }

  /** Marks the subscription as down and says so once: messages published from now on miss this node. */
  #lostSubscription(reason: string): void {
    if (!this.#receiving) return;
    this.#receiving = false;
    this.#subscriberDown = true;
    this.#onError(new Error(`redis broker: ${reason}; events published until it resubscribes do not reach this node`));
  }

  readonly #publisherOnError = (err: Error): void => {
    if (this.#publisherDown) return;
    this.#publisherDown = true;
    this.#onError(new Error(`redis broker publisher: ${err.message}`));
  };

  readonly #publisherOnReady = (): void => {
    if (!this.#publisherDown) return;
    this.#publisherDown = false;
    this.#onRecovered('redis broker publisher: connected again');
  };

  readonly #subscriberOnError = (err: Error): void => {
    // A subscription that was working is reported once, by the 'close' that follows its error; the error says why.
    if (this.#receiving) {
      this.#subscriberError = err.message;
      return;
    }
    if (this.#subscriberDown) return;
    this.#subscriberDown = true;
    this.#onError(new Error(`redis broker subscriber: ${err.message}`));
  };

  /** hot path: one decode of the small header; the frame text goes on untouched. */
  readonly #subscriberOnMessage = (channel: string, payload: string): void => {
    const message = decodePayload(payload);
    if (message === null) {
      this.#onError(new Error(`redis broker: skipped a payload on ${channel} that is not in format ${PAYLOAD_VERSION}`));
      return;
    }
    dispatch(this.#handlers, message, this.#onError);
  };

  /** A new connection has no subscriptions: subscribe every wanted channel, then say the node receives again. */
  readonly #subscriberOnReady = (): void => {
    this.#pendingPing = null;
    const connection = ++this.#connection;
    this.#active.clear();
    void this.#requestSync().then(() => {
      if (connection !== this.#connection || this.#closing || this.#subscriber.status !== 'ready') return;
      this.#receiving = true;
      this.#signalReceiving();
      if (this.#subscriberDown) {
        this.#subscriberDown = false;
        this.#onRecovered(`redis broker subscriber: subscribed again to ${this.#active.size} channel(s)`);
      }
      const restored = this.#receivedBefore;
      this.#receivedBefore = true;
      if (restored) for (const listener of this.#resubscribedListeners) this.#notifyResubscribed(listener);
    });
  };

  #notifyResubscribed(listener: () => void): void {
    try {
      listener();
    } catch (err) {
      this.#onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  readonly #subscriberOnClose = (): void => {
    this.#pendingPing = null;
    this.#connection++;
    this.#active.clear();
    const cause = this.#subscriberError === null ? '' : ` (${this.#subscriberError})`;
    this.#subscriberError = null;
    this.#lostSubscription(`the Redis subscriber connection closed${cause}`);
  };

  readonly #heartbeatOnTick = (): void => {
    const now = performance.now();
    // A tick far later than scheduled means this process did not run (stopped, or a long pause): the answer
    // may be waiting unread in the socket, so the unanswered PING is not held against the connection.
    const late = now - this.#lastHeartbeat > 2 * this.#heartbeatMs;
    this.#lastHeartbeat = now;
    if (!this.#receiving) return;
    if (this.#pendingPing !== null && !late) {
      this.#lostSubscription(`the Redis subscriber did not answer PING within ${this.#heartbeatMs} ms, reconnecting`);
      this.#subscriber.disconnect(true);
      return;
    }
    const ping = this.#subscriber.ping();
    this.#pendingPing = ping;
    ping.then(() => {
      if (this.#pendingPing === ping) this.#pendingPing = null;
    }, ignore);
  };
}

/** hot path: the header is a few dozen bytes; the frame is concatenated, not copied into JSON. */
function encodePayload(message: BrokerMessage): string {
  return `${JSON.stringify([PAYLOAD_VERSION, message.id, message.channel, message.type, message.offset])}\n${message.encoded}`;
}

/** The message in a payload, or null when the payload is not in this format. */
function decodePayload(payload: string): BrokerMessage | null {
  const end = payload.indexOf('\n');
  if (end < 0) return null;
  let header: unknown;
  try {
    header = JSON.parse(payload.slice(0, end));
  } catch {
    return null;
  }
  if (!Array.isArray(header) || header.length !== 5 || header[0] !== PAYLOAD_VERSION) return null;
  const [, id, channel, type, offset] = header as unknown[];
  if (typeof id !== 'string' || typeof channel !== 'string' || typeof type !== 'string' || typeof offset !== 'number') return null;
  return { id, channel, type, offset, encoded: payload.slice(end + 1) };
}

/** Rejection value of {@link withDeadline} when time ran out. */
const DEADLINE_PASSED = Symbol('deadline passed');

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(DEADLINE_PASSED), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** QUIT waits for replies to what was sent (bounded by the command timeout); a connection that is not up is just dropped. */
async function quitConnection(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') return disconnectConnection(redis);
  const ended = onceEnded(redis);
  await redis.quit().catch(() => redis.disconnect());
  await ended;
}

/** Stops reconnecting and closes the socket; resolves once ioredis reports the end. */
async function disconnectConnection(redis: Redis): Promise<void> {
  // A reconnecting client has no socket and never emits 'end' again; 'wait' and 'end' have none either.
  const ended = redis.status === 'reconnecting' || redis.status === 'wait' || redis.status === 'end' ? null : onceEnded(redis);
  redis.disconnect();
  await ended;
}

function onceEnded(redis: Redis): Promise<void> {
  return new Promise((resolve) => redis.once('end', resolve));
}

/** For promises whose failure is reported elsewhere (the 'error' event, or the caller's deadline). */
function ignore(): void {}

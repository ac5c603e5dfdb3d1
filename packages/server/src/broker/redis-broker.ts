import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { dispatch, warnOnError, type Broker, type BrokerErrorHandler, type BrokerHandler, type BrokerMessage } from './broker.ts';

/** Options of {@link RedisBroker}. */
export interface RedisBrokerOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`; there is no default host. */
  url: string;
  /** Prefix of the pub/sub channel (`${prefix}events`) and of the connection names. Default `'fonana-realtime:'`. */
  prefix?: string;
  /** Longest a `publish()` may take, connecting included, before it rejects; also Redis's per-command timeout. Default 2000 ms. */
  publishTimeoutMs?: number;
  /**
   * Interval of the subscriber's PING. A connection that has not answered by the next tick is taken for
   * dead (a half-open TCP connection otherwise looks subscribed forever) and is reconnected. Default 5000 ms.
   */
  heartbeatMs?: number;
  /** Receives connection errors, malformed payloads and handler exceptions. Default: a process warning. */
  onError?: BrokerErrorHandler;
}

/** First element of every payload header; a payload in another format is reported and skipped. */
const PAYLOAD_VERSION = 1;

/**
 * How long a closing socket may wait for the server's FIN before it is destroyed (ioredis default 2000 ms).
 * A live Redis answers within milliseconds; a dead one should not hold up a reconnect or a shutdown.
 * ioredis also arms this timer when disconnecting a client that is between reconnect attempts, where it
 * only keeps the process alive: https://github.com/redis/ioredis/issues/1247
 */
const DISCONNECT_TIMEOUT_MS = 250;

/**
 * Broker over one Redis pub/sub channel, `${prefix}events`, with two connections: a publisher and a
 * subscriber. Each message is one PUBLISH whose payload is a small JSON header, a newline, then the frame:
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
 * - The subscriber resubscribes after every reconnect (ioredis `autoResubscribe`). What was published
 *   while it was down is lost to this node; the loss is reported to `onError`, never silent.
 * - Redis closes a subscriber whose output buffer passes `client-output-buffer-limit pubsub` (32 MiB by
 *   default): size it for the largest burst of frames a slow node may have to take.
 */
export class RedisBroker implements Broker {
  /** Random id of this broker; the connections are named `${prefix}pub:<id>` and `${prefix}sub:<id>` (see CLIENT LIST). */
  readonly instanceId: string = randomUUID();
  readonly #channel: string;
  readonly #publishTimeoutMs: number;
  readonly #heartbeatMs: number;
  readonly #onError: BrokerErrorHandler;
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #handlers: BrokerHandler[] = [];
  /** Rejects when `close()` is called, so a subscription that is still waiting for Redis stops waiting. */
  readonly #closeSignal: Promise<never>;
  #signalClose: (err: Error) => void = ignore;
  #publisherStart: Promise<void> | null = null;
  #subscription: Promise<void> | null = null;
  /** The server confirmed our SUBSCRIBE at least once; ioredis repeats it after each reconnect. */
  #subscribed = false;
  /** The subscriber is subscribed right now and answering. */
  #receiving = false;
  #pendingPing: Promise<unknown> | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: RedisBrokerOptions) {
    const prefix = options.prefix ?? 'fonana-realtime:';
    this.#channel = `${prefix}events`;
    this.#publishTimeoutMs = options.publishTimeoutMs ?? 2000;
    this.#heartbeatMs = options.heartbeatMs ?? 5000;
    this.#onError = options.onError ?? warnOnError;
    this.#closeSignal = new Promise<never>((_, reject) => {
      this.#signalClose = reject;
    });
    this.#closeSignal.catch(ignore);

    this.#publisher = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.#publishTimeoutMs,
      disconnectTimeout: DISCONNECT_TIMEOUT_MS,
      connectionName: `${prefix}pub:${this.instanceId}`,
    });
    this.#publisher.on('error', this.#publisherOnError);

    this.#subscriber = new Redis(options.url, {
      lazyConnect: true,
      // The only queued command is SUBSCRIBE: it waits for Redis however long Redis is down.
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

  /** Adds a handler; the first call connects both connections and subscribes. */
  async subscribe(handler: BrokerHandler): Promise<void> {
    if (this.#closing) throw new Error('redis broker is closed; cannot subscribe');
    this.#handlers.push(handler);
    void this.#startPublisher();
    this.#subscription ??= this.#startSubscriber();
    await this.#subscription;
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
    for (let i = 0; i < messages.length; i++) pipeline.publish(this.#channel, encodePayload(messages[i]!));
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
    this.#heartbeat = setInterval(this.#heartbeatOnTick, this.#heartbeatMs).unref();
    await Promise.race([this.#subscriber.subscribe(this.#channel), this.#closeSignal]);
    this.#subscribed = true;
    this.#receiving = !this.#closing && this.#subscriber.status === 'ready';
  }

  /** Marks the subscription as down and says so: messages published from now on miss this node. */
  #lostSubscription(reason: string): void {
    if (!this.#receiving) return;
    this.#receiving = false;
    this.#onError(new Error(`redis broker: ${reason}; events published until it resubscribes do not reach this node`));
  }

  readonly #publisherOnError = (err: Error): void => {
    this.#onError(new Error(`redis broker publisher: ${err.message}`, { cause: err }));
  };

  readonly #subscriberOnError = (err: Error): void => {
    this.#onError(new Error(`redis broker subscriber: ${err.message}`, { cause: err }));
  };

  /** hot path: one decode of the small header; the frame text goes on untouched. */
  readonly #subscriberOnMessage = (_channel: string, payload: string): void => {
    const message = decodePayload(payload);
    if (message === null) {
      this.#onError(new Error(`redis broker: skipped a payload on ${this.#channel} that is not in format ${PAYLOAD_VERSION}`));
      return;
    }
    dispatch(this.#handlers, message, this.#onError);
  };

  /** ioredis has already re-sent SUBSCRIBE for a connection that was subscribed before. */
  readonly #subscriberOnReady = (): void => {
    this.#pendingPing = null;
    this.#receiving = this.#subscribed && !this.#closing;
  };

  readonly #subscriberOnClose = (): void => {
    this.#pendingPing = null;
    this.#lostSubscription('the Redis subscriber connection closed');
  };

  readonly #heartbeatOnTick = (): void => {
    if (!this.#receiving) return;
    if (this.#pendingPing !== null) {
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

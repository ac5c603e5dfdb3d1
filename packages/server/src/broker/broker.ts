/**
 * The broker carries committed events from the outbox relay to every gateway node.
 *
 * ```
 * outbox relay ──publish()──▶ broker ──handler(message)──▶ the hub of every node that added the message's channel
 * ```
 *
 * Guarantees every implementation gives (checked by test/broker.contract.ts):
 * - Routing: a node receives the messages of the channels it added (`addChannels`) and no others. The
 *   hub adds a channel on its first local subscriber (a user's channel on the user's first socket) and
 *   removes it after the last. A message published before the node's `addChannels` promise resolved
 *   may or may not reach it.
 * - Ordering: every subscriber sees the messages of one channel in the order the broker accepted them.
 *   Messages of one publisher keep their `publish()` call order, and their array order within a call,
 *   so per-channel offsets published in order arrive in order. Nothing orders two publishers against
 *   each other; the outbox relays avoid the question by publishing each channel from one partition,
 *   which one relay at a time holds.
 * - At most once per node: a node receives a message zero or one times. A node whose subscription is
 *   down (Redis pub/sub keeps nothing for a disconnected subscriber) misses what was published
 *   meanwhile; once the subscription is back, `onResubscribed` tells it to fill the gap from history.
 *   A publish that timed out may still have reached the broker, and the outbox publishes it again, so
 *   receivers must also drop duplicates by `id`.
 * - Broker down: `publish()` rejects within a bounded time (the relay keeps the rows and retries, so
 *   nothing is lost, only late), `isHealthy()` turns false, and the implementation reconnects and
 *   resubscribes by itself (every added channel), then calls `onResubscribed`. Nothing is ever dropped
 *   silently on the publishing side.
 * - Content: `encoded` arrives byte-identical, and no implementation parses or re-encodes it.
 */

/** Routing facts of one event; `encoded` is the exact frame text sent to sockets. */
export interface BrokerMessage {
  /** Event id, unique; receivers drop duplicates by it. */
  id: string;
  /** Wire channel key the event was published on. */
  channel: string;
  /** Event type, as in the frame. */
  type: string;
  /** Position of the event in its channel (1, 2, …). */
  offset: number;
  /** The serialised `EventFrame`, encoded once for every node and socket. */
  encoded: string;
}

/**
 * Receives each message once per node. Called synchronously in order, so it must not block; treat the
 * message as read-only (the memory broker hands the same object to every node). An exception is
 * reported to the broker's `onError` and does not stop delivery to other handlers or later messages.
 */
export type BrokerHandler = (message: BrokerMessage) => void;

/** Where a broker reports what it cannot throw: connection trouble, malformed payloads, failing handlers. */
export type BrokerErrorHandler = (err: Error) => void;

/** Options of {@link Broker.subscribe}. */
export interface SubscribeOptions {
  /**
   * Called after the node's subscription came back after a loss (reconnect, the connection killed by the
   * server, a broker restart), once every added channel is subscribed again: whatever was published in
   * between did not reach this node, so it fills the gaps from history now. Exceptions go to `onError`.
   */
  onResubscribed?: () => void;
}

/** Transport of committed events between the outbox relay and the gateway nodes. */
export interface Broker {
  /**
   * Publishes messages in order. Resolves once the broker has accepted all of them; rejects (never hangs
   * longer than a bounded timeout) when it cannot, so the outbox relay keeps the rows and retries.
   * A rejection does not say that nothing was published: part of the batch, or all of it, may have
   * gone out before the failure. Rejects at once after `close()`.
   */
  publish(messages: readonly BrokerMessage[]): Promise<void>;
  /**
   * Registers a handler that receives every message of the node's channels (see `addChannels`) published
   * by any node, this one included, in publish order per channel. Resolves once the node receives, which
   * for Redis means once the server confirmed the channels added so far: while Redis is unreachable the
   * promise waits for it rather than failing, and `isHealthy()` stays false. Rejects after `close()`.
   */
  subscribe(handler: BrokerHandler, options?: SubscribeOptions): Promise<void>;
  /**
   * Starts routing these channel keys to this node (idempotent per key). Calls made together are batched
   * into one request. Resolves once the broker confirmed them, or at once while the subscription is down
   * (they are subscribed with the rest when it comes back, before `onResubscribed`). Never rejects; a
   * no-op after `close()`.
   */
  addChannels(keys: readonly string[]): Promise<void>;
  /** Stops routing these channel keys to this node; batched like `addChannels`. Never rejects. */
  removeChannels(keys: readonly string[]): Promise<void>;
  /** Health for /readyz: true while the broker can publish and receive. */
  isHealthy(): boolean;
  /** Stops receiving, closes connections, and makes later `publish()`/`subscribe()` calls reject. Idempotent. */
  close(): Promise<void>;
}

/**
 * hot path: hands one message to every handler. A throwing handler is reported and skipped, so one
 * faulty consumer cannot starve the others or break the broker's delivery loop.
 */
export function dispatch(handlers: readonly BrokerHandler[], message: BrokerMessage, onError: BrokerErrorHandler): void {
  for (let i = 0; i < handlers.length; i++) {
    try {
      handlers[i]!(message);
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

/** Default `onError`: a process warning on stderr, visible without crashing the process. */
export function warnOnError(err: Error): void {
  process.emitWarning(err);
}

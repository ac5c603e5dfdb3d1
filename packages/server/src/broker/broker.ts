/**
 * The broker carries committed events from the outbox relay to every gateway node.
 *
 * ```
 * outbox relay ──publish()──▶ broker ──handler(message)──▶ every node's hub (this node included)
 * ```
 *
 * Guarantees every implementation gives (checked by test/broker.contract.ts):
 * - Ordering: every subscriber sees messages in the order the broker accepted them. Messages of one
 *   publisher keep their `publish()` call order, and their array order within a call, so per-channel
 *   offsets published in order arrive in order. Nothing orders two publishers against each other; the
 *   outbox relay avoids the question by letting one relay at a time publish.
 * - At most once per node: a node receives a message zero or one times. A node that is not subscribed,
 *   or whose subscription is down (Redis pub/sub keeps nothing for a disconnected subscriber), misses
 *   what was published meanwhile; it learns of the gap from the per-channel offsets and recovers from
 *   history. A publish that timed out may still have reached the broker, and the outbox publishes it
 *   again, so receivers must also drop duplicates by `id`.
 * - Broker down: `publish()` rejects within a bounded time (the relay keeps the rows and retries, so
 *   nothing is lost, only late), `isHealthy()` turns false, and the implementation reconnects and
 *   resubscribes by itself. Nothing is ever dropped silently on the publishing side.
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
   * Registers a handler that receives every message published by any node, this one included, in
   * publish order per channel (see the ordering guarantee above). Resolves once subscribed, which for
   * Redis means once the server confirmed the subscription: while Redis is unreachable the promise
   * waits for it rather than failing, and `isHealthy()` stays false. Rejects after `close()`.
   */
  subscribe(handler: BrokerHandler): Promise<void>;
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

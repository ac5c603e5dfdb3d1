import {
  dispatch,
  warnOnError,
  type Broker,
  type BrokerErrorHandler,
  type BrokerHandler,
  type BrokerMessage,
  type SubscribeOptions,
} from './broker.ts';

/** Options of {@link MemoryBroker}. */
export interface MemoryBrokerOptions {
  /**
   * Joins the in-process cluster of `peer`: a message published on any broker of a cluster reaches every
   * open broker of it, like nodes sharing one Redis. Default: a cluster of its own (one node).
   */
  peer?: MemoryBroker;
  /** Receives exceptions thrown by handlers. Default: a process warning. */
  onError?: BrokerErrorHandler;
}

/**
 * In-process broker for a single node and for tests. `publish()` accepts synchronously; delivery happens
 * later on `setImmediate` (so a burst cannot starve I/O), in publish order. A broker receives only what
 * was published on one of its channels while it had a handler, as with Redis pub/sub. Its subscription
 * is never lost, so `onResubscribed` is never called.
 */
export class MemoryBroker implements Broker {
  readonly #cluster: Set<MemoryBroker>;
  readonly #onError: BrokerErrorHandler;
  readonly #handlers: BrokerHandler[] = [];
  readonly #channels = new Set<string>();
  #queue: BrokerMessage[] = [];
  #scheduled = false;
  #closed = false;

  constructor(options: MemoryBrokerOptions = {}) {
    this.#cluster = options.peer ? options.peer.#cluster : new Set();
    this.#cluster.add(this);
    this.#onError = options.onError ?? warnOnError;
  }

  /** Queues the messages for every subscribed broker of the cluster; rejects only after `close()`. */
  async publish(messages: readonly BrokerMessage[]): Promise<void> {
    if (this.#closed) throw new Error('memory broker is closed; cannot publish');
    for (const node of this.#cluster) {
      if (node.#handlers.length > 0) node.#enqueue(messages);
    }
  }

  /** Adds a handler; resolves at once. */
  async subscribe(handler: BrokerHandler, _options?: SubscribeOptions): Promise<void> {
    if (this.#closed) throw new Error('memory broker is closed; cannot subscribe');
    this.#handlers.push(handler);
  }

  async addChannels(keys: readonly string[]): Promise<void> {
    if (this.#closed) return;
    for (const key of keys) this.#channels.add(key);
  }

  async removeChannels(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#channels.delete(key);
  }

  /** True until `close()`. */
  isHealthy(): boolean {
    return !this.#closed;
  }

  /** Leaves the cluster and drops messages not yet delivered. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cluster.delete(this);
    this.#channels.clear();
    this.#queue = [];
  }

  /** hot path: routing is decided at publish time, as Redis does. */
  #enqueue(messages: readonly BrokerMessage[]): void {
    const before = this.#queue.length;
    for (let i = 0; i < messages.length; i++) if (this.#channels.has(messages[i]!.channel)) this.#queue.push(messages[i]!);
    if (this.#queue.length > before && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#deliverQueued);
    }
  }

  /** hot path: delivers everything queued so far; messages queued by a handler wait for the next turn. */
  readonly #deliverQueued = (): void => {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    for (let i = 0; i < queue.length && !this.#closed; i++) dispatch(this.#handlers, queue[i]!, this.#onError);
  };
}

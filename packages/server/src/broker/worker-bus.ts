/**
 * The in-machine bus of `serve` with WORKERS > 1 and no REDIS_URL: the workers of one machine reach each other
 * through the cluster primary, over node:cluster's IPC channels.
 *
 * ```
 * worker's outbox relay ──publish()──▶ IPC ──▶ primary ──relayWorkerBus()──▶ IPC ──▶ every worker (the sender too)
 *                                                                                  └─▶ handlers, for its added channels
 * ```
 *
 * Routing is decided by each worker (it drops the messages of channels it did not add), so the primary forwards every
 * message to every worker, in the order it received them: one publisher's messages keep their order. An IPC channel
 * is never lost while both processes live, so `onResubscribed` is never called; a worker whose primary is gone is
 * unhealthy and its publish rejects.
 */
import {
  dispatch,
  warnOnError,
  type Broker,
  type BrokerErrorHandler,
  type BrokerHandler,
  type BrokerMessage,
  type SubscribeOptions,
} from './broker.ts';

/** The IPC message carrying published broker messages (worker → primary → workers). */
export interface WorkerBusEnvelope {
  readonly fonanaBus: 1;
  readonly messages: readonly BrokerMessage[];
}

export function isWorkerBusEnvelope(value: unknown): value is WorkerBusEnvelope {
  return typeof value === 'object' && value !== null && (value as { fonanaBus?: unknown }).fonanaBus === 1;
}

/** A worker's channel to the primary: `process` in a cluster worker; a fake in tests. */
export interface WorkerBusTransport {
  /** Sends to the primary; `done` is called once written (or with an error). */
  send(envelope: WorkerBusEnvelope, done: (err: Error | null) => void): void;
  /** Registers the receiver of what the primary forwards (every IPC message; others are ignored). */
  onMessage(listener: (message: unknown) => void): void;
  offMessage(listener: (message: unknown) => void): void;
  /** Whether the channel to the primary is open. */
  connected(): boolean;
}

/** The cluster worker's IPC channel as a {@link WorkerBusTransport}. */
export function processTransport(): WorkerBusTransport {
  return {
    send(envelope, done) {
      if (!process.send || !process.connected) {
        done(new Error('worker bus: the channel to the primary is closed; cannot publish'));
        return;
      }
      process.send(envelope, undefined, {}, (err) => done(err ?? null));
    },
    onMessage: (listener) => void process.on('message', listener),
    offMessage: (listener) => void process.off('message', listener),
    connected: () => process.connected === true,
  };
}

export interface WorkerBusOptions {
  readonly transport: WorkerBusTransport;
  readonly onError?: BrokerErrorHandler;
}

/** One worker's end of the in-machine bus. */
export class WorkerBus implements Broker {
  readonly #transport: WorkerBusTransport;
  readonly #onError: BrokerErrorHandler;
  readonly #handlers: BrokerHandler[] = [];
  readonly #channels = new Set<string>();
  #listening = false;
  #closed = false;

  constructor(options: WorkerBusOptions) {
    this.#transport = options.transport;
    this.#onError = options.onError ?? warnOnError;
  }

  /** Resolves once the primary's channel took the messages; rejects when it is closed, or after `close()`. */
  publish(messages: readonly BrokerMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('worker bus is closed; cannot publish'));
    if (messages.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#transport.send({ fonanaBus: 1, messages }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Adds a handler; resolves at once. */
  async subscribe(handler: BrokerHandler, _options?: SubscribeOptions): Promise<void> {
    if (this.#closed) throw new Error('worker bus is closed; cannot subscribe');
    this.#handlers.push(handler);
    if (!this.#listening) {
      this.#listening = true;
      this.#transport.onMessage(this.#receive);
    }
  }

  async addChannels(keys: readonly string[]): Promise<void> {
    if (this.#closed) return;
    for (const key of keys) this.#channels.add(key);
  }

  async removeChannels(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#channels.delete(key);
  }

  /** True while the channel to the primary is open, until `close()`. */
  isHealthy(): boolean {
    return !this.#closed && this.#transport.connected();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
    if (this.#listening) this.#transport.offMessage(this.#receive);
    this.#listening = false;
  }

  /** hot path: what the primary forwarded, to the handlers, for the channels this worker added. */
  readonly #receive = (value: unknown): void => {
    if (this.#closed || !isWorkerBusEnvelope(value)) return;
    const { messages } = value;
    for (let i = 0; i < messages.length && !this.#closed; i++) {
      if (this.#channels.has(messages[i]!.channel)) dispatch(this.#handlers, messages[i]!, this.#onError);
    }
  };
}

/** The primary's part of the bus: what a worker publishes goes to every live worker, in arrival order. */
export interface BusRelayCluster {
  on(event: 'message', listener: (worker: { id: number }, message: unknown) => void): unknown;
  readonly workers?: NodeJS.Dict<{ isConnected(): boolean; send(message: WorkerBusEnvelope): boolean }>;
}

export function relayWorkerBus(cluster: BusRelayCluster): void {
  cluster.on('message', (_from, message) => {
    if (!isWorkerBusEnvelope(message)) return;
    for (const worker of Object.values(cluster.workers ?? {})) if (worker?.isConnected()) worker.send(message);
  });
}

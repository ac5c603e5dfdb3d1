import type { Broker, BrokerErrorHandler } from './broker.ts';
import { MemoryBroker } from './memory-broker.ts';
import { RedisBroker } from './redis-broker.ts';
import { processTransport, WorkerBus } from './worker-bus.ts';

export type { Broker, BrokerErrorHandler, BrokerHandler, BrokerMessage, SubscribeOptions } from './broker.ts';
export { MemoryBroker, type MemoryBrokerOptions } from './memory-broker.ts';
export { RedisBroker, type RedisBrokerOptions } from './redis-broker.ts';
export { WorkerBus, relayWorkerBus, type WorkerBusTransport } from './worker-bus.ts';

/** Options of {@link createBroker}. */
export interface CreateBrokerOptions {
  /** Redis URL; without one the node runs alone on a {@link MemoryBroker}. */
  redisUrl?: string;
  /** Redis channel and connection-name prefix (default `'fonana-realtime:'`); ignored by the memory broker. */
  prefix?: string;
  /** Receives what the broker cannot throw: connection trouble, malformed payloads, failing handlers. */
  onError?: BrokerErrorHandler;
  /** Without a URL: a worker of `serve` with WORKERS > 1, reaching the other workers through the cluster primary. */
  workerBus?: boolean;
  /** Told when a Redis connection reported down works again (Redis only). */
  onRecovered?: (message: string) => void;
}

/** The node's broker: Redis when a URL is given (several nodes), else in-process memory (one node). Connects lazily. */
export function createBroker(options: CreateBrokerOptions): Broker {
  const { redisUrl, prefix, onError, onRecovered } = options;
  if (redisUrl) return new RedisBroker({ url: redisUrl, prefix, onError, onRecovered });
  if (options.workerBus) return new WorkerBus({ transport: processTransport(), onError });
  return new MemoryBroker({ onError });
}

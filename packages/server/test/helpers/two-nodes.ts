/** Two gateway nodes on one database and one broker (Redis with REDIS_URL, else two peered in-process brokers). */
import { randomUUID } from 'node:crypto';
import type { Broker } from '../../src/broker/broker.ts';
import { MemoryBroker } from '../../src/broker/memory-broker.ts';
import { RedisBroker } from '../../src/broker/redis-broker.ts';
import { openDatabase } from '../../src/db/client.ts';
import { createTestDatabase } from './database.ts';
import { startGateway, type TestGateway } from './gateway.ts';
import { reverseScope } from './teardown.ts';

export async function startTwoNodes(
  t: { after(fn: () => unknown): void },
  env: Record<string, string> = {},
): Promise<{ a: TestGateway; b: TestGateway }> {
  const scope = reverseScope(t);
  const { db, url } = await createTestDatabase(scope);
  const dbB = url ? await openDatabase({ url }) : db;
  if (dbB !== db) scope.after(() => dbB.close());
  const prefix = `rt-two-nodes-${randomUUID()}:`;
  const redisUrl = process.env.REDIS_URL;
  const brokerA: Broker = redisUrl ? new RedisBroker({ url: redisUrl, prefix }) : new MemoryBroker();
  const brokerB: Broker = redisUrl ? new RedisBroker({ url: redisUrl, prefix }) : new MemoryBroker({ peer: brokerA as MemoryBroker });
  scope.after(() => brokerA.close());
  scope.after(() => brokerB.close());
  const a = await startGateway(scope, { db, broker: brokerA, env });
  const b = await startGateway(scope, { db: dbB, broker: brokerB, env, seed: false });
  return { a, b };
}

/** Starts a real gateway node on loopback (port 0) over a fresh test database, torn down after the test. */
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { GatewayNode } from '../../src/node.ts';
import { mintToken } from '../../src/auth/tokens.ts';
import type { Broker } from '../../src/broker/broker.ts';
import type { Database } from '../../src/db/client.ts';
import type { DemoOptions } from '../../src/http/routes/demo.ts';
import { seed } from '../../src/db/seed.ts';
import { createTestDatabase } from './database.ts';
import { TestClient } from './ws-client.ts';
import { reverseScope } from './teardown.ts';

export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnop';
export const TEST_API_KEY = 'test-api-key-0123456789';

export interface TestGateway {
  node: GatewayNode;
  db: Database;
  httpUrl: string;
  wsUrl: string;
  token(userId: string, expiresInSeconds?: number): Promise<string>;
  /** Opens a socket with `?token=` for the user and waits for `connected`. */
  connect(userId: string): Promise<TestClient>;
  /** POST with the API key. */
  api(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
}

type After = { after(fn: () => unknown): void };

export async function startGateway(
  t: After,
  options: { env?: Record<string, string>; db?: Database; broker?: Broker; seed?: boolean; logger?: Logger; demo?: DemoOptions } = {},
): Promise<TestGateway> {
  const scope = reverseScope(t);
  const db = options.db ?? (await createTestDatabase(scope)).db;
  if (options.seed !== false) await seed(db);
  const config = loadConfig({
    NEXTAUTH_SECRET: TEST_SECRET,
    REALTIME_API_KEY: TEST_API_KEY,
    PORT: '0',
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    OUTBOX_POLL_MS: '200',
    MIGRATE_ON_START: 'false',
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL, REDIS_PREFIX: `rt-test-${randomUUID()}:` } : {}),
    ...options.env,
  });
  const node = await GatewayNode.start({
    config,
    logger: options.logger ?? createLogger(config.logLevel),
    secret: config.nextAuthSecret!,
    db,
    ...(options.broker ? { broker: options.broker } : {}),
    ...(options.demo ? { demo: options.demo } : {}),
  });
  scope.after(() => node.shutdown(0));
  const httpUrl = `http://127.0.0.1:${node.port}`;
  const wsUrl = `ws://127.0.0.1:${node.port}/ws`;
  const token = (userId: string, expiresInSeconds = 600) =>
    mintToken(userId, { secret: TEST_SECRET, expiresInSeconds, issuer: config.jwtIssuer, audience: config.jwtAudience });
  return {
    node,
    db,
    httpUrl,
    wsUrl,
    token,
    async connect(userId) {
      const client = await TestClient.open(`${wsUrl}?token=${await token(userId)}`);
      scope.after(() => client.close());
      await client.next('connected');
      return client;
    },
    async api(path, body, headers = {}) {
      const res = await fetch(`${httpUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}`, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    },
  };
}

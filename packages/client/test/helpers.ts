/** Test helpers of the SDK: a gateway that can be restarted on the same port over the same database, and awaiting events. */
import WebSocket from 'ws';
import { createTestDatabase } from '../../server/test/helpers/database.ts';
import { startGateway, type TestGateway } from '../../server/test/helpers/gateway.ts';
import { TEST_WEBHOOK_SECRET } from '../../server/test/helpers/payments.ts';
import { seed } from '../../server/src/db/seed.ts';
import type { Database } from '../../server/src/db/client.ts';
import type { DemoOptions } from '../../server/src/http/routes/demo.ts';
import {
  createClient,
  type ClientEvents,
  type ClientOptions,
  type Events,
  type RealtimeClient,
  type Subscription,
  type SubscriptionEvents,
  type WebSocketConstructor,
} from '../src/index.ts';
import { reverseScope } from '../../server/test/helpers/teardown.ts';

type After = { after(fn: () => unknown): void };

/** A gateway whose node can be stopped and started again on the same port and database (a server restart). */
export interface RestartableGateway {
  readonly current: TestGateway;
  readonly db: Database;
  readonly wsUrl: string;
  readonly httpUrl: string;
  /** Stops the node (sockets closed with 1012) without starting a new one. */
  stop(): Promise<void>;
  /** Starts a node on the same port and database. */
  start(): Promise<void>;
}

export async function startRestartableGateway(
  t: After,
  env: Record<string, string> = {},
  options: { demo?: DemoOptions } = {},
): Promise<RestartableGateway> {
  const scope = reverseScope(t);
  const { db } = await createTestDatabase(scope);
  await seed(db);
  const fullEnv = { PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET, ...env };
  let current = await startGateway(scope, { db, seed: false, env: fullEnv, ...options });
  const port = String(current.node.port);
  return {
    get current() {
      return current;
    },
    db,
    wsUrl: current.wsUrl,
    httpUrl: current.httpUrl,
    stop: () => current.node.shutdown(0),
    async start() {
      current = await startGateway(scope, { db, seed: false, env: { ...fullEnv, PORT: port }, ...options });
    },
  };
}

/** A client for `userId` against the gateway, closed after the test; counts its getToken calls. */
export function clientFor(
  t: After,
  gateway: { wsUrl: string; current?: TestGateway } & Partial<TestGateway>,
  userId: string,
  options: Partial<ClientOptions> & { ttlSeconds?: number } = {},
): RealtimeClient & { tokenCalls: string[] } {
  const tokenCalls: string[] = [];
  const mint = () => (gateway.current ?? (gateway as TestGateway)).token(userId, options.ttlSeconds ?? 600);
  const client = createClient({
    url: gateway.wsUrl,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    getToken: (reason) => {
      tokenCalls.push(reason);
      return mint();
    },
    ...options,
  }) as RealtimeClient & { tokenCalls: string[] };
  client.tokenCalls = tokenCalls;
  t.after(() => client.destroy());
  return client;
}

/** Resolves with the first value `on` reports that satisfies `match`; rejects after `timeoutMs`. */
export function waitFor<T>(
  on: (listener: (value: T) => void) => () => void,
  match: (value: T) => boolean = () => true,
  timeoutMs = 10_000,
  what = 'an event',
): Promise<T> {
  return new Promise((resolve, reject) => {
    const off = on((value) => {
      if (!match(value)) return;
      off();
      clearTimeout(timer);
      resolve(value);
    });
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
  });
}

/** Resolves once `check()` is true, re-checked whenever `on` reports a change. */
export function until(on: (listener: () => void) => () => void, check: () => boolean, timeoutMs = 10_000, what = 'a condition'): Promise<void> {
  if (check()) return Promise.resolve();
  return waitFor<void>(on as (listener: (value: void) => void) => () => void, () => check(), timeoutMs, what);
}

/** The next `event` of a client or subscription matching `match`; rejects after `timeoutMs`. */
export function next<K extends keyof ClientEvents<Events>>(
  target: RealtimeClient<any>,
  event: K,
  match?: (value: ClientEvents<Events>[K]) => boolean,
  timeoutMs?: number,
  what?: string,
): Promise<ClientEvents<Events>[K]>;
export function next<K extends keyof SubscriptionEvents<Events>>(
  target: Subscription<any>,
  event: K,
  match?: (value: SubscriptionEvents<Events>[K]) => boolean,
  timeoutMs?: number,
  what?: string,
): Promise<SubscriptionEvents<Events>[K]>;
export function next(target: any, event: string, match: (value: any) => boolean = () => true, timeoutMs = 10_000, what = event): Promise<any> {
  return waitFor((fn) => target.on(event, fn), match, timeoutMs, what);
}

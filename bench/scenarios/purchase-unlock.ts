/**
 * Purchase → unlock: confirmation → event latency: how long from sending a signed payment confirmation until `post-purchased`
 * arrives on the buyer's sockets, through the whole path (HTTP, validation, one transaction with the outbox,
 * NOTIFY, relay, broker, hub, WebSocket). Peers measured in the same run, on the same node:
 *   - publish → event: `POST /v1/publish` through the same outbox path, without payment validation;
 *   - ping → pong: a WebSocket round trip, the floor of any server-to-socket latency here.
 *
 * With `twoNodes` (needs BENCH_DATABASE_URL and REDIS_URL) the second socket is on a second node and the event
 * crosses Redis to reach it. The node runs in the bench's own process, beside its clients.
 *
 * Run: node --import tsx bench/scenarios/purchase-unlock.ts [--smoke] [--two-nodes]   (embedded PGlite, memory broker)
 *      BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 node --import tsx bench/scenarios/purchase-unlock.ts
 * With BENCH_DATABASE_URL a fresh database is created on that server and dropped afterwards; N samples: BENCH_PURCHASES.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { PGLITE_TEMPLATE } from '../lib/servers.ts';
import type { Row, ScenarioResult } from '../lib/report.ts';
import { round, runIfMain, type ScenarioOptions } from '../lib/scenario.ts';
import { loadConfig } from '../../packages/server/src/config/config.ts';
import { openDatabase } from '../../packages/server/src/db/client.ts';
import { migrate } from '../../packages/server/src/db/migrate.ts';
import { seed } from '../../packages/server/src/db/seed.ts';
import { posts } from '../../packages/server/src/db/schema.ts';
import { createLogger } from '../../packages/server/src/logger.ts';
import { GatewayNode } from '../../packages/server/src/node.ts';
import { mintToken } from '../../packages/server/src/auth/tokens.ts';
import { signPayload } from '../../packages/server/src/http/signature.ts';
import { TestClient } from '../../packages/server/test/helpers/ws-client.ts';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const WEBHOOK = 'bench-webhook-secret-0123456789';
const API_KEY = 'bench-api-key-0123456789';

async function freshDatabaseUrl(): Promise<{ url: string | undefined; drop: () => Promise<void> }> {
  const admin = process.env.BENCH_DATABASE_URL;
  if (!admin) return { url: undefined, drop: async () => {} };
  const name = `rt_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** One node (or two on Redis), a buyer with two sockets, N sequential confirmations, publishes and pings. */
export async function purchaseUnlock({ smoke }: ScenarioOptions, twoNodes = false): Promise<ScenarioResult> {
  const N = smoke ? 15 : Number(process.env.BENCH_PURCHASES ?? 300);
  if (twoNodes && !(process.env.BENCH_DATABASE_URL && process.env.REDIS_URL)) throw new Error('two nodes need BENCH_DATABASE_URL and REDIS_URL');
  const { url, drop } = await freshDatabaseUrl();
  // A migrated and seeded PGlite of an earlier scenario of this run, when there is one (saves its initdb).
  const fromTemplate = !url && existsSync(PGLITE_TEMPLATE);
  const db = await openDatabase(fromTemplate ? { pglite: new PGlite({ loadDataDir: new Blob([readFileSync(PGLITE_TEMPLATE)]) }) } : { url });
  if (!fromTemplate) {
    await migrate(db);
    await seed(db);
  }
  const now = new Date();
  await db.orm.insert(posts).values(
    Array.from({ length: N }, (_, i) => ({
      id: `bench-post-${i}`,
      creatorId: 'demo-creator',
      title: `Bench post ${i}`,
      content: `Paid content ${i} `.repeat(20),
      type: 'image',
      mediaUrl: `/media/bench/${i}.jpg`,
      thumbnail: `/media/bench/${i}-thumb.jpg`,
      isLocked: true,
      price: 0.1,
      currency: 'SOL',
      createdAt: now,
      updatedAt: now,
    })),
  );
  const config = loadConfig({
    NEXTAUTH_SECRET: SECRET,
    REALTIME_API_KEY: API_KEY,
    PAYMENT_WEBHOOK_SECRET: WEBHOOK,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    MIGRATE_ON_START: 'false',
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL, REDIS_PREFIX: `rt-bench-${randomUUID()}:` } : {}),
  });
  const node = await GatewayNode.start({ config, logger: createLogger('silent'), secret: SECRET, db, metrics: false });
  const base = `http://127.0.0.1:${node.port}`;
  const token = await mintToken('demo-fan-none', { secret: SECRET, expiresInSeconds: 3600 });
  const second = twoNodes
    ? await GatewayNode.start({ config: { ...config, port: 0 }, logger: createLogger('silent'), secret: SECRET, db: await openDatabase({ url }), metrics: false })
    : node;
  const tabs = await Promise.all([node, second].map((n) => TestClient.open(`ws://127.0.0.1:${n.port}/ws?token=${token}`)));
  await Promise.all(tabs.map((c) => c.next('connected')));

  const confirmToFirst: number[] = [];
  const confirmToBoth: number[] = [];
  const publishToFirst: number[] = [];
  const pingPong: number[] = [];

  async function timed(send: () => Promise<Response>, type: string, first: number[], both?: number[]) {
    const started = performance.now();
    const arrivals = tabs.map((c) => c.next(type, 10_000).then(() => performance.now() - started));
    const res = await send();
    if (res.status !== 200) throw new Error(`${type}: HTTP ${res.status} ${await res.text()}`);
    const [a, b] = await Promise.all(arrivals);
    first.push(Math.min(a!, b!));
    both?.push(Math.max(a!, b!));
  }

  const warmup = Math.min(20, Math.floor(N / 10));
  for (let i = 0; i < N; i++) {
    const body = JSON.stringify({
      kind: 'post_purchase',
      txSignature: `bench-${i}-${randomUUID()}`,
      userId: 'demo-fan-none',
      postId: `bench-post-${i}`,
      amount: 0.1,
      currency: 'SOL',
    });
    const c1: number[] = [];
    const c2: number[] = [];
    await timed(
      () => fetch(`${base}/v1/payments/confirmed`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': signPayload(WEBHOOK, body) }, body }),
      'post-purchased',
      c1,
      c2,
    );
    const p: number[] = [];
    await timed(
      () =>
        fetch(`${base}/v1/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
          body: JSON.stringify({ userId: 'demo-fan-none', type: 'bench', data: { i } }),
        }),
      'bench',
      p,
    );
    const t0 = performance.now();
    tabs[0]!.send({ type: 'ping' });
    await tabs[0]!.next('pong');
    if (i >= warmup) {
      confirmToFirst.push(c1[0]!);
      confirmToBoth.push(c2[0]!);
      publishToFirst.push(p[0]!);
      pingPong.push(performance.now() - t0);
    }
  }

  const rows: Row[] = Object.entries({
    'confirmation → post-purchased (first socket)': summary(confirmToFirst),
    [`confirmation → post-purchased (both sockets${twoNodes ? ', the second on node 2 via Redis' : ''})`]: summary(confirmToBoth),
    'publish → event (peer: same outbox path, no payment logic)': summary(publishToFirst),
    'ping → pong (peer: WebSocket round trip)': summary(pingPong),
  }).map(([path, s]) => ({ path, 'p50 ms': round(s.p50), 'p99 ms': round(s.p99), 'mean ms': round(s.mean), 'p50 / ping p50': '' }));
  const floor = rows[3]!['p50 ms'] as number;
  for (const r of rows) r['p50 / ping p50'] = `${((r['p50 ms'] as number) / floor).toFixed(1)}×`;
  for (const c of tabs) c.close();
  if (second !== node) await second.shutdown(0);
  await node.shutdown(0);
  await db.close();
  await drop();
  return {
    scenario: twoNodes ? 'purchase-unlock-two-nodes' : 'purchase-unlock',
    settings: { placement: 'node(s) and clients in the bench process', database: db.kind, broker: process.env.REDIS_URL ? 'redis' : 'memory', nodes: twoNodes ? 2 : 1, samples: confirmToFirst.length, warmup },
    rows,
    chart: [
      { column: 'p50 ms', unit: 'lower is better' },
      { column: 'p99 ms', unit: 'lower is better' },
    ],
  };
}

await runIfMain(import.meta.url, (o) => purchaseUnlock(o, process.argv.includes('--two-nodes')));

/**
 * Confirmation → event latency: how long from sending a signed payment confirmation until `post-purchased`
 * arrives on the buyer's sockets, through the whole path (HTTP, validation, one transaction with the outbox,
 * NOTIFY, relay, broker, hub, WebSocket). Peers measured in the same run, on the same node:
 *   - publish → event: `POST /v1/publish` through the same outbox path, without payment validation;
 *   - ping → pong: a WebSocket round trip, the floor of any server-to-socket latency here.
 *
 * Run: node --import tsx bench/confirm-to-event.ts [N]       (embedded PGlite, memory broker)
 *      BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 node --import tsx bench/confirm-to-event.ts
 * With BENCH_DATABASE_URL a fresh database is created on that server and dropped afterwards.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../packages/server/src/config/config.ts';
import { openDatabase } from '../packages/server/src/db/client.ts';
import { migrate } from '../packages/server/src/db/migrate.ts';
import { seed } from '../packages/server/src/db/seed.ts';
import { posts } from '../packages/server/src/db/schema.ts';
import { createLogger } from '../packages/server/src/logger.ts';
import { GatewayNode } from '../packages/server/src/node.ts';
import { mintToken } from '../packages/server/src/auth/tokens.ts';
import { signPayload } from '../packages/server/src/http/signature.ts';
import { TestClient } from '../packages/server/test/helpers/ws-client.ts';

const N = Number(process.argv[2] ?? 300);
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

const { url, drop } = await freshDatabaseUrl();
const db = await openDatabase({ url });
await migrate(db);
await seed(db);
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
const tabs = await Promise.all([1, 2].map(() => TestClient.open(`ws://127.0.0.1:${node.port}/ws?token=${token}`)));
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

const fmt = (n: number) => n.toFixed(2);
const rows = {
  'confirmation → post-purchased (first socket)': summary(confirmToFirst),
  'confirmation → post-purchased (both sockets)': summary(confirmToBoth),
  'publish → event (peer: same outbox path, no payment logic)': summary(publishToFirst),
  'ping → pong (peer: WebSocket round trip)': summary(pingPong),
};
const floor = rows['ping → pong (peer: WebSocket round trip)'];
console.log(`database: ${db.kind}, broker: ${process.env.REDIS_URL ? 'redis' : 'memory'}, samples: ${confirmToFirst.length} (after ${warmup} warm-up)`);
console.log('| path | p50 ms | p99 ms | mean ms | p50 / ping p50 |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, s] of Object.entries(rows)) {
  console.log(`| ${name} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.mean)} | ${(s.p50 / floor.p50).toFixed(1)}× |`);
}
for (const c of tabs) c.close();
await node.shutdown(0);
await db.close();
await drop();

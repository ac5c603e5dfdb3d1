/**
 * Cross-node delivery: publish → event latency on a two-node cluster (nodes A and B on one PostgreSQL database and
 * one Redis, relays with OUTBOX_PARTITIONS=8), to a socket on A, which took the publish, and to a socket of the same
 * user on B (relay → Redis → B's subscription), on the same events. Peer in the same run, publishes interleaved:
 * a single node C with the in-process broker on a database of its own (one node, no Redis hop).
 *
 * Run: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 node --import tsx bench/cross-node.ts [N]
 * Fresh databases are created on that server and dropped afterwards.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../packages/server/src/config/config.ts';
import { openDatabase } from '../packages/server/src/db/client.ts';
import { migrate } from '../packages/server/src/db/migrate.ts';
import { seed } from '../packages/server/src/db/seed.ts';
import { createLogger } from '../packages/server/src/logger.ts';
import { GatewayNode } from '../packages/server/src/node.ts';
import { mintToken } from '../packages/server/src/auth/tokens.ts';
import { TestClient } from '../packages/server/test/helpers/ws-client.ts';

const N = Number(process.argv[2] ?? 300);
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const API_KEY = 'bench-api-key-0123456789';
const admin = process.env.BENCH_DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if (!admin || !redisUrl) throw new Error('set BENCH_DATABASE_URL and REDIS_URL: two nodes need a shared PostgreSQL and Redis');

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(text);
  await client.end();
}

function summary(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  return { p50: at(50), p99: at(99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function freshDatabase(): Promise<{ name: string; url: string }> {
  const name = `rt_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(admin!);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

const clusterDb = await freshDatabase();
const aloneDb = await freshDatabase();
const prefix = `rt-bench-${randomUUID()}:`;
const nodes: GatewayNode[] = [];
for (let i = 0; i < 3; i++) {
  const alone = i === 2;
  const db = await openDatabase({ url: alone ? aloneDb.url : clusterDb.url });
  if (i !== 1) {
    await migrate(db);
    await seed(db);
  }
  const config = loadConfig({
    NEXTAUTH_SECRET: SECRET,
    REALTIME_API_KEY: API_KEY,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    // Every benchmark client comes from one loopback address: lift the per-address limits meant to stop that.
    MAX_SOCKETS_PER_ADDRESS: '100000',
    MAX_UNAUTHENTICATED_PER_ADDRESS: '100000',
    MAX_CONNECT_RATE_PER_ADDRESS: '100000',
    MIGRATE_ON_START: 'false',
    ...(alone ? {} : { REDIS_URL: redisUrl, REDIS_PREFIX: prefix }),
    OUTBOX_PARTITIONS: '8',
  });
  nodes.push(await GatewayNode.start({ config, logger: createLogger('silent'), secret: SECRET, db, metrics: false }));
}
const [a, b, c] = nodes as [GatewayNode, GatewayNode, GatewayNode];
const token = await mintToken('demo-fan-none', { secret: SECRET, expiresInSeconds: 3600 });
const [onA, onB, onC] = await Promise.all([a, b, c].map((node) => TestClient.open(`ws://127.0.0.1:${node.port}/ws?token=${token}`)));
await Promise.all([onA!, onB!, onC!].map((client) => client.next('connected')));

/** Publishes one event through `node`'s API; resolves with each client's delay until it had it. */
async function publishAndTime(node: GatewayNode, clients: TestClient[], i: number): Promise<number[]> {
  const started = performance.now();
  const arrivals = clients.map((client) => client.next('bench', 10_000).then(() => performance.now() - started));
  const res = await fetch(`http://127.0.0.1:${node.port}/v1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ userId: 'demo-fan-none', type: 'bench', data: { i } }),
  });
  if (res.status !== 200) throw new Error(`publish: HTTP ${res.status}`);
  return Promise.all(arrivals);
}

const alone: number[] = [];
const local: number[] = [];
const cross: number[] = [];
const warmup = Math.min(20, Math.floor(N / 10));
for (let i = 0; i < N; i++) {
  const [toC] = await publishAndTime(c, [onC!], i);
  const [toA, toB] = await publishAndTime(a, [onA!, onB!], i);
  if (i >= warmup) {
    alone.push(toC!);
    local.push(toA!);
    cross.push(toB!);
  }
}

const fmt = (n: number) => n.toFixed(2);
const aloneSummary = summary(alone);
console.log(`samples: ${local.length} per row (after ${warmup} warm-up), publishes to C and to A interleaved`);
console.log('| path | p50 ms | p99 ms | mean ms | p50 / one node p50 |');
console.log('|---|---:|---:|---:|---:|');
for (const [label, s] of [
  ['one node C, memory broker: publish on C → socket on C (peer)', aloneSummary],
  ['cluster, Redis: publish on A → socket on A', summary(local)],
  ['cluster, Redis: publish on A → socket on B (cross-node)', summary(cross)],
] as const) {
  console.log(`| ${label} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.mean)} | ${(s.p50 / aloneSummary.p50).toFixed(2)}× |`);
}
for (const client of [onA!, onB!, onC!]) client.close();
for (const node of nodes) {
  await node.shutdown(0);
  await node.db.close();
}
for (const { name } of [clusterDb, aloneDb]) await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);

/**
 * SDK reconnect storm: N clients (the SDK, `ws` underneath) connected to a gateway in a child process
 * (bench/storm-gateway.ts), each subscribed to `creator:demo-creator`. The gateway restarts: every socket is closed at
 * once (1012, no drain), it stays down DOWN_MS (default 2000), then serves again on the same port; one event is
 * published on the channel as soon as it serves. A client has *recovered* when it is connected, resubscribed and has
 * that event (replayed with `since`, or live). Measured from the kill: time until every client has recovered, and the
 * spread of the reconnect times (when each client's `connected` came).
 * Peer in the same run: the same clients with jitter off (delay = the backoff cap, as the reference client did).
 * Modes alternate: jitter, no jitter, jitter, no jitter, …
 * Also reported: when each reconnect attempt was due (the backoff's choice) and the most due within 100 ms once the
 * gateway serves again (the herd the clients aim at it, before its own queue spreads them), the close codes seen.
 * The gateway runs pinned to core 0 and this process to core 1 (as the suite); the marker event is recognised by a
 * value of its storm (a client back early may get it before the publish's HTTP answer arrives here). Writes
 * bench/results/reconnect-storm.json and .svg.
 *
 * Run: node --import tsx bench/reconnect-storm.ts [clients=5000] [rounds=2] [downMs=2000]
 * With BENCH_DATABASE_URL (an admin URL of a PostgreSQL server) the gateway uses a fresh database created and dropped
 * by the run; without it, the embedded PGlite in a temporary DATA_DIR.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import WebSocket from 'ws';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mintToken } from '../packages/server/src/auth/tokens.ts';
import { machine, RESULTS_DIR, svgChart } from './lib/report.ts';
import { pinLoadGenerator } from './lib/servers.ts';
import { createClient, type RealtimeClient, type WebSocketConstructor } from '../packages/client/src/index.ts';

const CLIENTS = Number(process.argv[2] ?? 5000);
const ROUNDS = Number(process.argv[3] ?? 2);
const DOWN_MS = Number(process.argv[4] ?? 2000);
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const API_KEY = 'bench-api-key-0123456789';
const USERS = ['demo-fan-none', 'demo-fan-free', 'demo-fan-basic', 'demo-fan-premium', 'demo-fan-vip', 'demo-fan-expired', 'demo-buyer', 'demo-creator-2'];
const BIN = resolve(import.meta.dirname, '../packages/server/bin/fonana-realtime.js');
const GATEWAY = resolve(import.meta.dirname, 'storm-gateway.ts');

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  return port;
}

function gatewayEnv(dataDir: string, port: number, databaseUrl: string | undefined): NodeJS.ProcessEnv {
  const { DATABASE_URL: _d, REDIS_URL: _r, ...env } = process.env;
  return {
    ...env,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    MIGRATE_ON_START: 'false', // `seed` migrated once

    NEXTAUTH_SECRET: SECRET,
    REALTIME_API_KEY: API_KEY,
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    MAX_SOCKETS_PER_USER: String(CLIENTS),
    // Every benchmark client comes from one loopback address: lift the per-address limits meant to stop that.
    MAX_SOCKETS_PER_ADDRESS: '100000',
    MAX_UNAUTHENTICATED_PER_ADDRESS: '100000',
    MAX_CONNECT_RATE_PER_ADDRESS: '100000',
    MAX_QUEUED_FRAMES: '64',
  };
}

async function run(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const [code] = (await once(child, 'exit')) as [number];
  if (code !== 0) throw new Error(`fonana-realtime ${args.join(' ')} exited ${code}`);
}

async function startGateway(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  // Pinned like the suite's servers: the gateway on core 0, this process (the clients) on core 1.
  const pinned = placement.startsWith('servers on core 0');
  const [cmd, args] = pinned ? ['taskset', ['-c', '0', process.execPath, '--import', 'tsx', GATEWAY]] : [process.execPath, ['--import', 'tsx', GATEWAY]];
  const child = spawn(cmd as string, args as string[], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await once(child, 'message');
  return child;
}

/** The chart of bench/results/reconnect-storm.svg: a bar per storm (mode and round). */
function stormChart(rows: { mode: string; allRecoveredMs: number; attemptsBusiest100ms: number; busiest1s: number }[]): string {
  return svgChart({
    scenario: `reconnect-storm (${CLIENTS} SDK clients, gateway restart)`,
    settings: {},
    rows: rows.map((r, i) => ({
      storm: `${r.mode}, round ${Math.floor(i / 2) + 1}`,
      'all recovered s': Number.isFinite(r.allRecoveredMs) ? r.allRecoveredMs / 1000 : null,
      'attempts due in busiest 100 ms': r.attemptsBusiest100ms,
      'reconnects in busiest 1 s': r.busiest1s,
    })),
    chart: [
      { column: 'attempts due in busiest 100 ms', unit: 'after the gateway is up: the herd, lower is better' },
      { column: 'reconnects in busiest 1 s', unit: 'connected as seen by the clients' },
      { column: 'all recovered s', unit: 'from the kill, lower is better' },
    ],
  });
}

/** Most entries of `sorted` within any window of `ms` (two pointers). */
function busiest(sorted: number[], ms: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j]! < sorted[i]! - ms + 1) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function storm(jitter: boolean, port: number, tokens: string[], gateway: ChildProcess) {
  const clients: RealtimeClient[] = [];
  const subs: ReturnType<RealtimeClient['subscribe']>[] = [];
  const closeCodes = new Map<number, number>();
  const connectedAt: number[] = new Array(CLIENTS).fill(NaN);
  const recoveredAt: number[] = new Array(CLIENTS).fill(NaN);
  let killedAt = 0;
  // The event published after the restart, recognised by a value of this storm alone: it may reach a client that is
  // already back before the publish's own HTTP answer (with its id) reaches this process.
  const marker = `${process.pid}-${Date.now()}-${jitter}`;
  let recovered = 0;
  let refetches = 0;
  let allRecovered!: () => void;
  const done = new Promise<void>((r) => (allRecovered = r));
  for (let i = 0; i < CLIENTS; i++) {
    const client = createClient({
      url: `ws://127.0.0.1:${port}/ws`,
      getToken: () => tokens[i % tokens.length]!,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      backoff: jitter ? {} : { random: () => 0.999999 },
      connectTimeoutMs: 30_000,
    });
    const sub = client.subscribe('creator:demo-creator');
    subs.push(sub);
    client.on('disconnected', ({ code }) => {
      if (killedAt) closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
    });
    client.on('connected', () => {
      if (killedAt && Number.isNaN(connectedAt[i]!)) connectedAt[i] = Date.now() - killedAt;
    });
    const recover = () => {
      if (!Number.isNaN(recoveredAt[i]!)) return;
      recoveredAt[i] = Date.now() - killedAt;
      if (++recovered === CLIENTS) allRecovered();
    };
    sub.on('event', (frame) => {
      if ((frame.data as { marker?: string } | undefined)?.marker === marker) recover();
    });
    // Told that the gap could not be replayed: the app refetches, which is recovered too (counted apart).
    sub.on('recovery', () => {
      if (!killedAt) return;
      refetches++;
      recover();
    });
    clients.push(client);
  }
  // Everyone connected and subscribed before the crash.
  await Promise.all(clients.map((c) => (c.state === 'connected' ? null : new Promise((r) => c.on('connected', r)))));
  await new Promise((r) => setTimeout(r, 1000));
  // The clients of a real restart have been connected for longer than the backoff's stable minute, so their backoff
  // starts over. Here they connected a second ago, many after failed attempts in the unpaced initial connect: reset
  // what the stable minute would have reset (how many had attempts left over is reported).
  const leftover = clients.map((c) => c.backoff.attempt);
  for (const c of clients) c.backoff.reset();
  // When each reconnect attempt is due (the backoff's choice), from the kill: the herd the clients aim at the server,
  // before the server's own queue spreads it.
  const attemptsDue: number[] = [];
  for (const c of clients) c.on('reconnecting', ({ delayMs }) => attemptsDue.push(Date.now() + delayMs - killedAt));
  killedAt = Date.now();
  gateway.send({ restart: DOWN_MS });
  await once(gateway, 'message');
  const upMs = Date.now() - killedAt;
  const published = await fetch(`http://127.0.0.1:${port}/v1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ channel: 'creator:demo-creator', type: 'after-restart', data: { marker } }),
  });
  if (published.status !== 200) throw new Error(`publish after the restart answered ${published.status}`);
  const timeout = setTimeout(() => allRecovered(), 60_000);
  await done;
  clearTimeout(timeout);
  // Clients not recovered when the run was cut: what state they were in (client, subscription, cursor).
  const stuck = new Map<string, number>();
  for (let i = 0; i < CLIENTS; i++) {
    if (!Number.isNaN(recoveredAt[i]!)) continue;
    const key = `client ${clients[i]!.state}, reconnected ${!Number.isNaN(connectedAt[i]!)}, sub ${subs[i]!.state}, cursor ${subs[i]!.cursor?.offset ?? 'none'}`;
    stuck.set(key, (stuck.get(key) ?? 0) + 1);
  }
  if (stuck.size > 0) console.error(`not recovered (marker ${marker}):`, JSON.stringify(Object.fromEntries(stuck)));
  console.error('close codes after the kill:', JSON.stringify(Object.fromEntries(closeCodes)));
  for (const c of clients) c.destroy();
  const reconnects = connectedAt.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  const recoveries = recoveredAt.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return {
    row: {
      mode: jitter ? 'full jitter' : 'no jitter (peer)',
      upMs,
      recovered: recoveries.length,
      refetches,
      allRecoveredMs: recoveries.length === CLIENTS ? recoveries.at(-1)! : NaN,
      reconnected: reconnects.length,
      reconnectP10: percentile(reconnects, 0.1),
      reconnectP50: percentile(reconnects, 0.5),
      reconnectP90: percentile(reconnects, 0.9),
      reconnectMax: reconnects.at(-1)!,
      // How many clients reconnected within the busiest 100 ms: the herd the server had to take at once.
      busiest100ms: busiest(reconnects, 100),
      busiest1s: busiest(reconnects, 1000),
      // Reconnect attempts scheduled from the kill until all recovered (failed ones while down included).
      attempts: attemptsDue.length,
      // Attempts due within the busiest 100 ms once the gateway serves again.
      attemptsBusiest100ms: busiest(attemptsDue.filter((t) => t >= upMs).sort((a, b) => a - b), 100),
      attemptsBusiest100msAll: busiest(attemptsDue.sort((a, b) => a - b), 100),
      leftoverAttempts: leftover.filter((a) => a > 0).length,
      // Close codes the clients saw from the kill on (1012: the restart; 1006: refused while down; 1011: the
      // gateway could not finish a token check within AUTH_TIMEOUT_MS, so the client retried).
      closeCodes: Object.fromEntries(closeCodes),
    },
  };
}

const placement = pinLoadGenerator();
const dataDir = await mkdtemp(join(tmpdir(), 'rt-storm-'));
const port = await freePort();
const adminUrl = process.env.BENCH_DATABASE_URL;
const dbName = `rt_bench_${process.pid}_${Date.now()}`;
let databaseUrl: string | undefined;
if (adminUrl) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  databaseUrl = url.toString();
}
const env = gatewayEnv(dataDir, port, databaseUrl);
await run(['seed'], env);
const tokens = await Promise.all(USERS.map((u) => mintToken(u, { secret: SECRET, expiresInSeconds: 3600 })));
const gateway = await startGateway(env);
const rows = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const jitter of [true, false]) {
      const result = await storm(jitter, port, tokens, gateway);
      rows.push(result.row);
      console.error(JSON.stringify(result.row));
    }
  }
} finally {
  gateway.send({ stop: true });
  await once(gateway, 'exit');
  await rm(dataDir, { recursive: true, force: true });
  if (adminUrl) {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}
console.log(`${CLIENTS} clients, gateway down ${DOWN_MS} ms`);
console.log(`| mode | gateway up after ms | recovered (of them told to refetch) | all recovered ms | reconnect p10 / p50 / p90 / max ms | most reconnects in 100 ms / 1 s | attempts | most attempts due in 100 ms (after up / any time) |`);
console.log(`|---|---:|---:|---:|---|---:|---:|---:|`);
for (const r of rows) {
  console.log(
    `| ${r.mode} | ${r.upMs} | ${r.recovered}/${CLIENTS} (${r.refetches}) | ${r.allRecoveredMs} | ${r.reconnectP10} / ${r.reconnectP50} / ${r.reconnectP90} / ${r.reconnectMax} | ${r.busiest100ms} / ${r.busiest1s} | ${r.attempts} | ${r.attemptsBusiest100ms} / ${r.attemptsBusiest100msAll} |`,
  );
}
console.log(`(clients with backoff attempts left from the initial connect, reset before the kill: ${rows.map((r) => r.leftoverAttempts).join(', ')})`);
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(join(RESULTS_DIR, 'reconnect-storm.json'), `${JSON.stringify({ clients: CLIENTS, rounds: ROUNDS, downMs: DOWN_MS, placement, machine: machine(), rows }, null, 2)}\n`);
writeFileSync(join(RESULTS_DIR, 'reconnect-storm.svg'), stormChart(rows));

/**
 * Servers under test, each in its own process pinned (with `taskset`, when there are ≥ 2 cores) to core 0 while
 * the load generator runs on core 1; and how a client of each one connects, subscribes and gets events published.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { ClientSpec } from './loadgen.ts';

export const PEERS = ['fonana-realtime', 'raw-coalesced', 'raw', 'ws', 'socketio'] as const;
export type Peer = (typeof PEERS)[number];

export const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
export const API_KEY = 'bench-api-key-0123456789';
export const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';
export const FAN_CHANNEL = 'creator:demo-creator';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The PGlite template of this run (see servers/gateway.ts), removed when the run exits. */
export const PGLITE_TEMPLATE = join(tmpdir(), `rt-bench-template-${process.pid}.tar`);
process.on('exit', () => rmSync(PGLITE_TEMPLATE, { force: true }));
const TWO_CORES = cpus().length >= 2 && hasTaskset();

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins this process (the load generator) to core 1 when there are two cores and `taskset`. */
export function pinLoadGenerator(): string {
  if (!TWO_CORES) return 'not pinned (one core or no taskset)';
  execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
  return 'servers on core 0, load generator on core 1 (taskset)';
}

export interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
}

/** Counter name → label values joined with ',' (or 'total') → value. */
export type Counters = Record<string, Record<string, number>>;

export interface RunningServer {
  readonly peer: Peer;
  readonly port: number;
  readonly pid: number;
  mem(): Promise<Mem>;
  /** The server's own counters (fonana-realtime: history queries and reads, recoveries); {} for the peers. */
  counters(): Promise<Counters>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Core to pin to; null: not pinned. Default 0. */
  readonly core?: number | null;
  /** Extra environment (DATABASE_URL, REDIS_URL, BENCH_USERS, BENCH_SEED…). */
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
}

export async function startServer(peer: Peer, options: StartOptions = {}): Promise<RunningServer> {
  const file = peer === 'fonana-realtime' ? join(HERE, '../servers/gateway.ts') : join(HERE, '../servers/peer.ts');
  // BENCH_CPU_PROF=<dir>: each server writes a V8 CPU profile there when it stops (node --cpu-prof).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const nodeArgs = ['--expose-gc', ...profile, '--import', 'tsx', file, peer];
  const core = options.core === undefined ? 0 : options.core;
  const [cmd, args] = TWO_CORES && core !== null ? ['taskset', ['-c', String(core), process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const env: Record<string, string | undefined> = {
    ...process.env,
    BENCH_SECRET: SECRET,
    BENCH_API_KEY: API_KEY,
    BENCH_WEBHOOK_SECRET: WEBHOOK_SECRET,
    BENCH_PGLITE_TEMPLATE: PGLITE_TEMPLATE,
    ...options.env,
  };
  if (!options.env?.DATABASE_URL) delete env.DATABASE_URL;
  if (!options.env?.REDIS_URL) delete env.REDIS_URL;
  const child = spawn(cmd as string, args as string[], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${peer}: not ready within ${options.timeoutMs ?? 120_000} ms`)), options.timeoutMs ?? 120_000);
    child.once('exit', (code) => reject(new Error(`${peer}: exited with ${code} before it was ready`)));
    child.on('message', (msg: { ready?: number }) => {
      if (msg.ready) {
        clearTimeout(timer);
        resolve(msg.ready);
      }
    });
  });
  let nextId = 0;
  return {
    peer,
    port,
    pid: child.pid!,
    mem: async () => (await ask(child, { cmd: 'mem', id: ++nextId })).mem as Mem,
    counters: async () =>
      peer === 'fonana-realtime' ? ((await ask(child, { cmd: 'counters', id: ++nextId })).counters as Counters) : {},
    stop: () => stopChild(child, profile.length > 0),
  };
}

function ask(child: ChildProcess, msg: { cmd: string; id: number }): Promise<{ mem?: Mem; counters?: Counters }> {
  return new Promise((resolve) => {
    const onMessage = (reply: { id?: number; mem?: Mem; counters?: Counters }) => {
      if (reply.id !== msg.id) return;
      child.off('message', onMessage);
      resolve(reply);
    };
    child.on('message', onMessage);
    child.send(msg);
  });
}

/** Kills the server; one that writes a profile is asked to exit (so it can) and killed only if it does not. */
async function stopChild(child: ChildProcess, graceful: boolean): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (graceful) {
    child.send({ cmd: 'exit', id: 0 });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
    return;
  }
  child.kill('SIGKILL');
  await exited;
}

/** An HS256 JWT with the platform's claims, made with node:crypto (thousands are minted per scenario). */
export function mintBenchToken(userId: string, ttlSeconds = 3600): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ userId, sub: userId, iat: now, exp: now + ttlSeconds })}`;
  return `${head}.${createHmac('sha256', SECRET).update(head).digest('base64url')}`;
}

export const benchUser = (i: number) => `bench-u-${i}`;

/**
 * Client `i` of a peer: authenticated as `bench-u-<i>` where the peer has auth, subscribed to the fan-out channel
 * and, with `own`, to the user's own notifications channel.
 */
export function clientSpec(peer: Peer, port: number, i: number, own: boolean): ClientSpec {
  const userId = benchUser(i);
  const channels = own ? [FAN_CHANNEL, `notifications:${userId}`] : [FAN_CHANNEL];
  switch (peer) {
    case 'fonana-realtime':
      return {
        port,
        path: `/ws?token=${mintBenchToken(userId)}`,
        setup: [{ afterAnswers: 0, frames: channels.map((c) => JSON.stringify({ type: 'subscribe', channel: c })) }],
        // connected, a `subscribed` per channel, and `unread_notifications` after the notifications one
        readyAfter: 1 + channels.length + (own ? 1 : 0),
      };
    case 'socketio':
      return {
        port,
        path: '/socket.io/?EIO=4&transport=websocket',
        setup: [
          { afterAnswers: 0, frames: [`40${JSON.stringify({ token: mintBenchToken(userId) })}`] },
          // after the engine's open packet and the namespace's connect answer
          { afterAnswers: 2, frames: channels.map((c) => `42${JSON.stringify(['subscribe', c])}`) },
        ],
        readyAfter: 2 + channels.length,
      };
    default:
      return {
        port,
        path: '/',
        setup: [{ afterAnswers: 0, frames: channels.map((c) => JSON.stringify({ type: 'subscribe', channel: c })) }],
        readyAfter: channels.length,
      };
  }
}

/** How events are published to a peer over HTTP: path, headers and body. */
export function publishRequest(peer: Peer, data: unknown): { path: string; headers: Record<string, string>; body: string } {
  const body = JSON.stringify({ channel: FAN_CHANNEL, type: 'bench', data });
  if (peer === 'fonana-realtime') {
    return { path: '/v1/publish', headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` }, body };
  }
  return { path: '/publish', headers: { 'content-type': 'application/json' }, body };
}

/** A fresh database on BENCH_DATABASE_URL's server (dropped by `drop`), or none (the gateway uses PGlite). */
export async function freshDatabase(): Promise<{ url: string | undefined; drop: () => Promise<void> }> {
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

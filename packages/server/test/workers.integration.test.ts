/**
 * `serve` with WORKERS=2 as a real process tree on one PostgreSQL, without Redis: the workers share the port and reach
 * each other over the in-machine bus through the primary; the primary serves their metrics summed; SIGTERM drains
 * every worker. And the refusal of WORKERS > 1 on the embedded database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { mintToken } from '../src/auth/tokens.ts';
import { seed } from '../src/db/seed.ts';
import { createPostgresTestDatabase } from './helpers/database.ts';
import { TEST_API_KEY, TEST_SECRET } from './helpers/gateway.ts';
import { BIN, metric, within } from './helpers/processes.ts';
import { TestClient } from './helpers/ws-client.ts';

const USER = 'demo-fan-none';
const SOCKETS = 6;

interface Tree {
  child: ChildProcess;
  /** stdout lines (pino JSON of the primary and of every worker). */
  lines: string[];
  stderr: string[];
  exited: Promise<number | null>;
}

function spawnServe(env: Record<string, string>): Tree {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  // 'close': the process has exited and every holder of its stdout and stderr (the workers too) has let go of them.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, lines, stderr, exited };
}

/** SIGKILL the primary and every worker still running (by pid), at teardown. */
function killTree(tree: Tree): void {
  const pids = new Set<number>();
  for (const line of tree.lines) {
    const pid = /"pid":(\d+)/.exec(line)?.[1];
    if (pid) pids.add(Number(pid));
  }
  if (tree.child.pid) pids.add(tree.child.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function until<T>(probe: () => T | undefined | false, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const parse = (line: string): Record<string, any> | null => {
  try {
    return JSON.parse(line) as Record<string, any>;
  } catch {
    return null;
  }
};

test('WORKERS=2 without Redis: one port, sockets on both workers, each event once on every socket, summed metrics, SIGTERM drains all', { timeout: 180_000 }, async (t) => {
  const { db, url } = await createPostgresTestDatabase(t);
  await seed(db);
  const tree = spawnServe({
    WORKERS: '2',
    DATABASE_URL: url!,
    NEXTAUTH_SECRET: TEST_SECRET,
    REALTIME_API_KEY: TEST_API_KEY,
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: 'debug',
    DRAIN_MS: '500',
    MAX_CONNECT_RATE_PER_ADDRESS: '1000',
  });
  t.after(() => killTree(tree));
  const listening = (await until(
    () => tree.lines.map(parse).find((l) => l?.msg === 'gateway listening' && l.workers === 2),
    `the primary's "gateway listening"`,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${tree.lines.slice(-20).join('\n')}\n${tree.stderr.join('\n')}`);
  }))!;
  const { port, metricsPort } = listening as { port: number; metricsPort: number };
  assert.equal(listening.broker, 'workers');
  // Each worker writes to the shared stdout itself: its line may reach the pipe after the primary's.
  const listeningWorkers = () => tree.lines.map(parse).filter((l) => l?.msg === 'gateway listening' && l.worker !== undefined);
  await until(() => listeningWorkers().length >= 2, 'two workers listening');
  const workerLines = listeningWorkers();
  assert.equal(workerLines.length, 2, 'two workers listening');
  assert.ok(workerLines.every((l) => l!.port === port && l!.broker === 'workers'), 'on the one port, on the bus');
  assert.ok(workerLines.every((l) => l!.metricsPort === 0), 'no metrics listener in a worker');

  const token = await mintToken(USER, { secret: TEST_SECRET, expiresInSeconds: 600 });
  const sockets: TestClient[] = [];
  t.after(() => sockets.forEach((s) => s.socket.terminate()));
  for (let i = 0; i < SOCKETS; i++) sockets.push(await TestClient.open(`ws://127.0.0.1:${port}/ws?token=${token}`));
  const connected = await Promise.all(sockets.map((s) => s.next('connected', 15_000)));

  // Which worker holds each socket: its debug line "websocket authenticated" carries the worker id.
  const workerOf = new Map<string, number>();
  await until(() => {
    for (const l of tree.lines.map(parse)) if (l?.msg === 'websocket authenticated') workerOf.set(l.connectionId, l.worker);
    return connected.every((c) => workerOf.has(c.data.connectionId));
  }, 'an "authenticated" line per socket');
  const perWorker = new Set(connected.map((c) => workerOf.get(c.data.connectionId)));
  assert.equal(perWorker.size, 2, `the sockets spread over both workers: ${JSON.stringify([...workerOf])}`);

  assert.equal(await metric(metricsPort, 'realtime_connections'), SOCKETS, "the primary's /metrics sums the workers'");

  // Published through whichever worker takes the request; the relay of one worker, the bus, every worker's sockets.
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/v1/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}` },
      body: JSON.stringify({ userId: USER, type: 'tick', data: { i } }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    ids.push(((await res.json()) as { id: string }).id);
  }
  for (const socket of sockets) {
    const got: string[] = [];
    for (let i = 0; i < ids.length; i++) got.push((await socket.next('tick', 10_000)).id as string);
    assert.deepEqual(got, ids, 'every event, in order');
    assert.deepEqual(await socket.none('tick', 300), [], 'each once');
  }

  // A worker that dies is logged and replaced; the other worker's sockets stay.
  const victim = workerLines[0]!;
  const survivors = sockets.filter((_, i) => workerOf.get(connected[i]!.data.connectionId) !== victim.worker);
  const lost = sockets.filter((s) => !survivors.includes(s));
  process.kill(victim.pid, 'SIGKILL');
  assert.deepEqual((await Promise.all(lost.map((s) => s.closed))).map((c) => c.code), lost.map(() => 1006));
  await until(() => tree.lines.map(parse).find((l) => l?.msg === 'worker died; starting a replacement' && l.worker === victim.worker), 'the death logged');
  await until(() => tree.lines.map(parse).find((l) => l?.msg === 'gateway listening' && l.worker === 3), 'the replacement worker listening');
  const again = await TestClient.open(`ws://127.0.0.1:${port}/ws?token=${token}`);
  await again.next('connected', 15_000);
  sockets.splice(0, sockets.length, ...survivors, again);
  assert.equal(await metric(metricsPort, 'realtime_connections'), sockets.length);

  const closes = sockets.map((s) => s.closed);
  tree.child.kill('SIGTERM');
  const codes = await within(Promise.all(closes), 30_000, 'every socket closed after SIGTERM');
  assert.deepEqual(
    codes.map((c) => c.code),
    sockets.map(() => 1012),
  );
  assert.equal(await within(tree.exited, 30_000, 'the primary exits after its workers'), 0, tree.stderr.join('\n'));
  const stopped = tree.lines.map(parse).filter((l) => l?.msg === 'stopped');
  assert.equal(stopped.length, 3, 'both live workers and the primary stopped cleanly');
  assert.deepEqual(tree.stderr, []);
});

test('WORKERS=2 without DATABASE_URL: one line naming WORKERS, exit 1, no worker started', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fonana-workers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tree = spawnServe({ WORKERS: '2', DATA_DIR: dir, NEXTAUTH_SECRET: TEST_SECRET });
  t.after(() => killTree(tree));
  const [code] = (await once(tree.child, 'close')) as [number | null];
  assert.equal(code, 1);
  assert.equal(tree.stderr.length, 1, tree.stderr.join('\n'));
  assert.match(tree.stderr[0]!, /^fonana-realtime: WORKERS: 2 workers need a PostgreSQL database \(DATABASE_URL\)/);
  assert.ok(!tree.lines.some((l) => l.includes('"gateway listening"')));
});

test('WORKERS=2 and a database that cannot be reached: one line from the workers, printed once, exit 1', { timeout: 60_000 }, async (t) => {
  const tree = spawnServe({ WORKERS: '2', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', NEXTAUTH_SECRET: TEST_SECRET, DB_CONNECT_TIMEOUT_MS: '1000' });
  t.after(() => killTree(tree));
  const [code] = (await once(tree.child, 'close')) as [number | null];
  assert.equal(code, 1);
  assert.equal(tree.stderr.length, 1, tree.stderr.join('\n'));
  assert.match(tree.stderr[0]!, /^fonana-realtime: DATABASE_URL: cannot connect to the database/);
});

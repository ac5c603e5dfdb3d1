/** Fail fast, one line: the CLI as a child process against busy ports, an unreachable database and a held DATA_DIR. */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = 'packages/server/bin/fonana-realtime.js';
const SECRET = 'startup-test-secret-that-is-long-enough-0123';

async function dataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fonana-startup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function start(args: readonly string[], env: Record<string, string>): { child: ChildProcess; out: { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NEXTAUTH_SECRET: SECRET, HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out.stderr += chunk));
  return { child, out };
}

async function run(args: readonly string[], env: Record<string, string>) {
  const { child, out } = start(args, env);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, ...out, stderrLines: out.stderr.split('\n').filter(Boolean) };
}

/** A listener on a free loopback port, closed after the test. */
async function occupy(t: TestContext): Promise<number> {
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as { port: number }).port;
}

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function canBind(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

test('a busy METRICS_PORT or PORT: one line naming the setting, exit 1, nothing left listening', async (t) => {
  const dir = await dataDir(t);
  const busy = await occupy(t);
  const metricsBusy = await run(['serve'], { DATA_DIR: dir, PORT: String(await freePort()), METRICS_PORT: String(busy) });
  assert.equal(metricsBusy.code, 1, metricsBusy.stderr);
  assert.deepEqual(metricsBusy.stderrLines, [`fonana-realtime: METRICS_PORT: cannot listen on 127.0.0.1:${busy}: address already in use (EADDRINUSE)`]);
  assert.doesNotMatch(metricsBusy.stdout, /gateway listening/);

  const metricsPort = await freePort();
  const portBusy = await run(['serve'], { DATA_DIR: dir, PORT: String(busy), METRICS_PORT: String(metricsPort) });
  assert.equal(portBusy.code, 1, portBusy.stderr);
  assert.deepEqual(portBusy.stderrLines, [`fonana-realtime: PORT: cannot listen on 127.0.0.1:${busy}: address already in use (EADDRINUSE)`]);
  assert.equal(await canBind(metricsPort), true, 'the metrics listener was closed again');
});

test('a database that cannot be reached at start: one line naming DATABASE_URL, without the password, exit 1', async (t) => {
  const closed = await freePort();
  const result = await run(['serve'], {
    DATA_DIR: await dataDir(t),
    PORT: '0',
    METRICS_PORT: '0',
    DATABASE_URL: `postgres://app:hunter2secret@127.0.0.1:${closed}/app`,
  });
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stderrLines.length, 1, result.stderr);
  assert.match(result.stderrLines[0]!, /^fonana-realtime: DATABASE_URL: cannot connect to the database: .*ECONNREFUSED/);
  assert.ok(!(result.stdout + result.stderr).includes('hunter2secret'));
});

test('one process per DATA_DIR: a second one is refused naming the holder; a stale lock is taken over', async (t) => {
  const dir = await dataDir(t);
  const first = start(['serve'], { DATA_DIR: dir, PORT: '0', METRICS_PORT: '0' });
  t.after(() => first.child.exitCode === null && first.child.kill('SIGKILL'));
  const until = Date.now() + 120_000;
  while (!first.out.stdout.includes('gateway listening') && Date.now() < until && first.child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(first.out.stdout, /gateway listening/, first.out.stderr);

  const second = await run(['migrate'], { DATA_DIR: dir });
  assert.equal(second.code, 1);
  assert.deepEqual(second.stderrLines, [
    `fonana-realtime: DATA_DIR: the embedded database in ${dir} is in use by process ${first.child.pid} (one process per DATA_DIR; lock file ${join(dir, 'pglite.lock')})`,
  ]);

  first.child.kill('SIGTERM');
  await once(first.child, 'close');
  // A crashed holder leaves its lock behind: a pid that no longer runs.
  const gone = spawn(process.execPath, ['-e', '']);
  await once(gone, 'close');
  await writeFile(join(dir, 'pglite.lock'), `${gone.pid}\n`);
  const after = await run(['migrate'], { DATA_DIR: dir });
  assert.equal(after.code, 0, after.stderr);
  assert.match(after.stdout, /^migrated/);
});

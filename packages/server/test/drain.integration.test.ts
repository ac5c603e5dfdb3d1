import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TestClient } from './helpers/ws-client.ts';
import { createTestDatabase } from './helpers/database.ts';
import { TEST_SECRET } from './helpers/gateway.ts';

const BIN = new URL('../bin/fonana-realtime.js', import.meta.url).pathname;

test('SIGTERM: readiness turns 503, new upgrades are refused, sockets close with 1012 over the drain window, exit 0', { timeout: 120_000 }, async (t) => {
  const { url } = await createTestDatabase(t, { migrate: false });
  const dataDir = await mkdtemp(join(tmpdir(), 'rt-drain-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [BIN, 'demo'], {
    env: {
      PATH: process.env.PATH,
      NEXTAUTH_SECRET: TEST_SECRET,
      PORT: '0',
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      DATA_DIR: dataDir,
      DRAIN_MS: '1500',
      ...(url ? { DATABASE_URL: url } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stdoutLines: string[] = [];
  const listening = new Promise<{ port: number; token: string }>((resolve, reject) => {
    let token = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdoutLines.push(line);
      const demo = /^\s+\S+\s+demo-fan-vip\s+(\S+)$/.exec(line);
      if (demo) token = demo[1]!;
      if (line.includes('"gateway listening"')) resolve({ port: JSON.parse(line).port, token });
    });
    child.on('exit', (code) => reject(new Error(`exited early with ${code}: ${stdoutLines.join('\n')}`)));
  });
  const { port, token } = await within(listening, 60_000, 'the demo gateway to listen');
  assert.ok(token.split('.').length === 3, 'demo printed a token for demo-fan-vip');
  const base = `127.0.0.1:${port}`;
  const clients = await Promise.all([1, 2, 3, 4].map(() => TestClient.open(`ws://${base}/ws?token=${token}`)));
  await Promise.all(clients.map((c) => c.next('connected')));
  assert.equal((await fetch(`http://${base}/readyz`)).status, 200);

  const started = Date.now();
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  const ready = await fetch(`http://${base}/readyz`);
  assert.equal(ready.status, 503, 'readiness is 503 while draining');
  const late = new TestClient(`ws://${base}/ws?token=${token}`);
  const lateError = await within(
    new Promise<string>((resolve) => late.socket.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)))),
    10_000,
    'the refused upgrade',
  );
  assert.equal(lateError, '503', 'no new upgrades while draining');

  const closes = await within(
    Promise.all(clients.map(async (c) => ({ ...(await c.closed), at: Date.now() - started }))),
    20_000,
    'the drain to close every socket',
  );
  assert.deepEqual(closes.map((c) => c.code), [1012, 1012, 1012, 1012]);
  assert.ok(closes.every((c) => c.reason === 'server restart'));
  const spread = Math.max(...closes.map((c) => c.at)) - Math.min(...closes.map((c) => c.at));
  assert.ok(spread >= 700, `closes are spread over the drain window (spread ${spread} ms)`);
  assert.equal(await within(exited, 20_000, 'the process to exit'), 0);
  assert.ok(!stdoutLines.some((l) => l.startsWith('{') && l.includes(token)), 'no log line contains a token');
});

/** `work`, or a failure naming what did not happen within `ms`. */
function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

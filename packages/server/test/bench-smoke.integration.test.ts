/**
 * The benchmark suite still runs: every scenario at tiny sizes (`bench/run.ts --smoke`), in a child process, with
 * its JSON and SVG written to a temporary folder. With DATABASE_URL and REDIS_URL the two-node and all-cores
 * scenarios run too. The figures of a smoke run mean nothing; what is checked is that every peer of every scenario
 * produced its measurements.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const PEERS = ['fonana-realtime', 'raw-coalesced', 'raw', 'ws', 'socketio'];

function runSuite(out: string): Promise<{ code: number | null; output: string }> {
  const env: Record<string, string | undefined> = { ...process.env, BENCH_RESULTS_DIR: out };
  if (process.env.DATABASE_URL) env.BENCH_DATABASE_URL = process.env.DATABASE_URL;
  delete env.DATABASE_URL;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke'], { cwd: ROOT, env });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c));
    child.stderr.on('data', (c: Buffer) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 540_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const read = (out: string, scenario: string) => JSON.parse(readFileSync(join(out, `${scenario}.json`), 'utf8'));

test('every scenario of the bench suite runs at smoke size and reports every peer', { timeout: 600_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'rt-bench-smoke-'));
  try {
    const { code, output } = await runSuite(out);
    assert.equal(code, 0, output.slice(-3000));

    const fanout = read(out, 'fanout');
    assert.deepEqual(fanout.rows.map((r: { peer: string }) => r.peer.split(' @')[0]), PEERS);
    for (const r of fanout.rows) {
      assert.ok(r['deliveries/s'] > 0, `${r.peer} delivered`);
      assert.ok(r['p99 ms'] >= r['p50 ms'], `${r.peer} latency percentiles`);
    }
    const latency = read(out, 'latency');
    assert.deepEqual(latency.rows.map((r: { peer: string }) => r.peer), PEERS);
    for (const r of latency.rows) assert.ok(Number.isFinite(r['p99 ms']) && r.events > 0, r.peer);
    const storm = read(out, 'connect-storm');
    assert.deepEqual(storm.rows.map((r: { peer: string }) => r.peer), PEERS);
    // `seconds` has two decimals, and 30 handshakes to a raw peer on a quiet machine can take under 5 ms: its rate is
    // the measurement that is never rounded to zero.
    for (const r of storm.rows) assert.ok(Number.isFinite(r.seconds) && r['connects/s'] > 0 && r.refused === 0, r.peer);
    const memory = read(out, 'idle-memory');
    assert.deepEqual(memory.rows.map((r: { peer: string }) => r.peer), PEERS);
    for (const r of memory.rows) assert.ok(Number.isFinite(r['heap KB/conn']), r.peer);
    const purchase = read(out, 'purchase-unlock');
    assert.equal(purchase.rows.length, 4);
    for (const r of purchase.rows) assert.ok(r['p50 ms'] > 0, r.path);
    for (const scenario of ['fanout', 'latency', 'connect-storm', 'idle-memory', 'purchase-unlock']) {
      assert.match(readFileSync(join(out, `${scenario}.svg`), 'utf8'), /^<svg [^>]*>[\s\S]*<rect [\s\S]*<\/svg>\n$/);
    }
    if (process.env.DATABASE_URL && process.env.REDIS_URL) {
      assert.equal(read(out, 'cores').rows.length, 4);
      assert.equal(read(out, 'purchase-unlock-two-nodes').settings.nodes, 2);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

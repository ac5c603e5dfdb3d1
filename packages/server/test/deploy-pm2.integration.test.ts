/**
 * deploy/ecosystem.config.cjs run for real under PM2 (the devDependency, with a PM2_HOME of the test's own): a
 * cluster of two gateway processes on one PostgreSQL database and a Redis of the test's own, reloaded gracefully
 * under a subscribed client that must not lose an event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mintToken } from '../src/auth/tokens.ts';
import { seed } from '../src/db/seed.ts';
import { createPostgresTestDatabase } from './helpers/database.ts';
import { TEST_API_KEY, TEST_SECRET } from './helpers/gateway.ts';
import { freePort } from './helpers/processes.ts';
import { assertNothingLost, recordingClient, until } from './helpers/recording-client.ts';
import { startOwnRedis } from './helpers/redis.ts';
import { reverseScope } from './helpers/teardown.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const PM2 = join(ROOT, 'node_modules/pm2/bin/pm2');

/** Two consecutive free ports (PM2's increment_var gives instance i METRICS_PORT + i). */
async function freePortPair(): Promise<number> {
  for (;;) {
    const base = await freePort();
    const probe = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(base + 1, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise((r) => probe.close(r));
      return base;
    }
  }
}

interface Pm2Process {
  pid: number;
  pm2_env: { status: string; restart_time: number };
}

/**
 * What must hold: `pm2 reload` replaces both processes while a subscribed SDK client receives a stream of events; the
 * client is moved by the drain (1012), resubscribes with `since` wherever the cluster sends it and is recovered
 * each time, and gets every event exactly once, in offset order. Its reconnects wait ~300 ms and for two more events
 * published after the close, so it gets some only by the replay.
 */
test(
  'PM2 cluster: a graceful reload replaces every process under a subscribed client, which loses no event',
  { timeout: 240_000 },
  async (t) => {
    const scope = reverseScope(t);
    const { db, url } = await createPostgresTestDatabase(scope);
    await seed(db);
    const redis = await startOwnRedis(scope);
    const home = await mkdtemp(join(tmpdir(), 'rt-pm2-'));
    scope.after(() => rm(home, { recursive: true, force: true }));
    const port = await freePort();
    const app = `rt-test-${randomUUID().slice(0, 8)}`;
    const env = {
      PATH: process.env.PATH,
      HOME: home,
      PM2_HOME: home,
      PM2_APP_NAME: app,
      WEB_CONCURRENCY: '2',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(await freePortPair()),
      DRAIN_MS: '1000',
      NEXTAUTH_SECRET: TEST_SECRET,
      REALTIME_API_KEY: TEST_API_KEY,
      DATABASE_URL: url!,
      REDIS_URL: redis.url,
      MIGRATE_ON_START: 'false',
      OUTBOX_POLL_MS: '200',
      LOG_LEVEL: 'warn',
    };
    // The CLI with piped stdio (execFile), each call bounded (a reload waits for two drains and two starts).
    const pm2 = async (...args: string[]) =>
      (await promisify(execFile)(process.execPath, [PM2, ...args], { env, cwd: ROOT, timeout: 90_000, killSignal: 'SIGKILL' })).stdout;
    scope.after(async () => {
      await pm2('kill').catch(() => {});
      // `pm2 kill` stops the daemon of this PM2_HOME; make sure by its pid file.
      const pid = Number(await readFile(join(home, 'pm2.pid'), 'utf8').catch(() => ''));
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
    const processes = async () => JSON.parse(await pm2('jlist')) as Pm2Process[];
    const phases: string[] = [];
    let phaseStart = Date.now();
    const phase = (name: string) => {
      phases.push(`${name} ${Date.now() - phaseStart} ms`);
      phaseStart = Date.now();
    };

    await pm2('start', 'deploy/ecosystem.config.cjs');
    const before = await processes();
    assert.deepEqual(before.map((p) => p.pm2_env.status), ['online', 'online'], 'a cluster of two');
    for (let i = 0; (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => null))?.status !== 200; i++) {
      assert.ok(i < 200, 'the cluster is ready within 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    phase('start');

    const CHANNEL = 'creator_demo-creator';
    // Each publish is answered before the next is sent, so `published` is in offset order.
    const published: string[] = [];
    const rc = recordingClient(scope, {
      url: `ws://127.0.0.1:${port}/ws`,
      channel: 'creator:demo-creator',
      token: () => mintToken('demo-fan-basic', { secret: TEST_SECRET }),
      publishedCount: () => published.length,
    });
    await rc.subscribed();

    /** As a platform publishes: a process that is closing answers 503, so retry with the same idempotency key. */
    const publish = async (n: number) => {
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}` },
          body: JSON.stringify({ channel: 'creator:demo-creator', type: 'tick', data: { n }, idempotencyKey: `${app}-${n}` }),
          signal: AbortSignal.timeout(10_000),
        }).catch(() => null);
        if (res?.status === 200) return void published.push(((await res.json()) as { id: string }).id);
        assert.ok(attempt < 50 && (res === null || res.status === 503), `publish ${n}: ${res?.status}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await publish(-1);
    await until(() => rc.events.length === 1, 10_000, () => 'the first event arrives');
    phase('subscribe and first event');

    let publishing = true;
    const publisher = (async () => {
      for (let n = 0; publishing; n++) {
        await publish(n);
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    try {
      await pm2('reload', app);
      phase('reload');
      // The client's last move waits ~300 ms to reconnect: keep publishing past that.
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      publishing = false;
      await publisher;
    }

    // Each old process stopped by itself after its drain (exit 0 on PM2's SIGINT), not by PM2's SIGKILL at kill_timeout.
    const pm2log = await readFile(join(home, 'pm2.log'), 'utf8');
    const exits = pm2log.split('\n').filter((l) => /_old_\d+\] exited/.test(l));
    assert.equal(exits.length, 2, `two old processes exited:\n${exits.join('\n')}`);
    assert.ok(exits.every((l) => /exited with code \[0\] via signal \[SIGINT\]/.test(l)), `each exited on its own after SIGINT:\n${exits.join('\n')}`);
    assert.doesNotMatch(pm2log, /still alive after/);
    const after = await processes();
    assert.deepEqual(after.map((p) => p.pm2_env.status), ['online', 'online']);
    assert.ok(after.every((p) => !before.some((b) => b.pid === p.pid)), 'both processes were replaced');
    // 1012 from a drain; 1006 for an attempt refused by a process that was itself draining or closing.
    assert.ok(
      rc.closes[0] === 1012 && rc.closes.every((code) => code === 1012 || code === 1006),
      `moved by a drain (closes: ${rc.closes.join(',')})`,
    );
    assert.ok(published.length > 10, `events were published during the reload (${published.length})`);
    await until(
      () => rc.events.length >= published.length,
      15_000,
      () => `the client got every event (${rc.events.length} of ${published.length})`,
    );
    const { recoveries, replayed } = assertNothingLost(rc, CHANNEL, published, 'the client');
    assert.ok(recoveries >= 1, 'resubscribed with recovered: true after the move');
    assert.ok(replayed > 0, `got the events published while it reconnected from the replay (${replayed})`);
    t.diagnostic(
      `${published.length} events, all delivered once and in order; closes ${rc.closes.join(',')}, ${recoveries} recoveries, ` +
        `${replayed} events replayed; ${phases.join(', ')}`,
    );
  },
);

/**
 * deploy/nginx.conf run for real: Debian's nginx (started by this test, on free ports, from a temporary prefix) in
 * front of two `fonana-realtime serve` processes on one PostgreSQL database and a Redis of the test's own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mintToken } from '../src/auth/tokens.ts';
import { seed } from '../src/db/seed.ts';
import { createPostgresTestDatabase } from './helpers/database.ts';
import { TEST_API_KEY, TEST_SECRET } from './helpers/gateway.ts';
import { freePort, metric, startGatewayProcess, within } from './helpers/processes.ts';
import { assertNothingLost, recordingClient, until, type RecordingClient } from './helpers/recording-client.ts';
import { startOwnRedis } from './helpers/redis.ts';
import { reverseScope } from './helpers/teardown.ts';

const SITE = new URL('../../../deploy/nginx.conf', import.meta.url);
const NGINX = '/usr/sbin/nginx';

type After = { after(fn: () => unknown): void };

/** deploy/nginx.conf with only the listen address, the upstream addresses and the log path replaced. */
async function siteConfig(port: number, upstreams: [number, number], dir: string): Promise<string> {
  const replacements: [string, string][] = [
    ['listen 80;', `listen 127.0.0.1:${port};`],
    ['server 127.0.0.1:3002 ', `server 127.0.0.1:${upstreams[0]} `],
    ['server 127.0.0.1:3003 ', `server 127.0.0.1:${upstreams[1]} `],
    ['/var/log/nginx/fonana-realtime.access.log', join(dir, 'access.log')],
  ];
  let site = await readFile(SITE, 'utf8');
  for (const [from, to] of replacements) {
    assert.ok(site.includes(from), `deploy/nginx.conf has "${from}"`);
    site = site.replace(from, to);
  }
  return site;
}

/** nginx as this test's own process (master + workers), checked with `nginx -t` first; stopped with SIGTERM after. */
async function startNginx(t: After, upstreams: [number, number]): Promise<{ port: number; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'rt-nginx-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  await writeFile(join(dir, 'site.conf'), await siteConfig(port, upstreams, dir));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `${k}_temp_path ${join(dir, k)};`).join(' ');
  await writeFile(
    join(dir, 'nginx.conf'),
    `error_log ${join(dir, 'error.log')} warn;\nevents { worker_connections 1024; }\n` +
      `http { ${temp} access_log off; include ${join(dir, 'site.conf')}; }\n`,
  );
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', `daemon off; pid ${join(dir, 'nginx.pid')}; worker_processes 1;`];
  await promisify(execFile)(NGINX, ['-t', ...args], { timeout: 10_000 });
  const child = spawn(NGINX, args, { stdio: ['ignore', 'ignore', 'ignore'] });
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGTERM'); // the master stops its workers; SIGKILL would orphan them
    try {
      await within(gone, 10_000, 'nginx stopped after SIGTERM');
    } catch {
      // Its workers by pid first (children of the master), then the master itself.
      const { stdout } = await promisify(execFile)('ps', ['-o', 'pid=', '--ppid', String(child.pid)]).catch(() => ({ stdout: '' }));
      for (const pid of stdout.split('\n').map(Number).filter((p) => p > 0)) process.kill(pid, 'SIGKILL');
      child.kill('SIGKILL');
      await within(gone, 5_000, 'nginx gone after SIGKILL');
    }
  });
  // Readiness: nginx says nothing when it listens, so ask it (bounded).
  for (let i = 0; ; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
    if (res?.status === 200) break;
    assert.ok(i < 200 && child.exitCode === null, 'nginx answers /healthz within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, dir };
}

/**
 * What must hold: sockets spread over both nodes through nginx, events cross nodes, and a drain of node A (SIGTERM,
 * exit 0) moves exactly A's clients (1012) through nginx to node B, where each SDK client resubscribes with `since`
 * and is recovered: every client, moved or not, gets every event exactly once and in offset order. Reconnects wait
 * ~300 ms and for two more events published after the close, so a moved client gets some only by the replay.
 */
test(
  'nginx in front of two nodes: connect through it, events cross nodes, a drained node\'s clients move to the other and lose nothing',
  { timeout: 180_000 },
  async (t) => {
    const scope = reverseScope(t);
    const { db, url } = await createPostgresTestDatabase(scope);
    await seed(db);
    const redis = await startOwnRedis(scope);
    const env = {
      NEXTAUTH_SECRET: TEST_SECRET,
      REALTIME_API_KEY: TEST_API_KEY,
      DATABASE_URL: url!,
      REDIS_URL: redis.url,
      DRAIN_MS: '1500',
      OUTBOX_POLL_MS: '200',
      MIGRATE_ON_START: 'false',
    };
    const [a, b] = await Promise.all([startGatewayProcess(scope, env), startGatewayProcess(scope, env)]);
    const proxy = await startNginx(scope, [a.port, b.port]);

    const CHANNEL = 'creator_demo-creator';
    // Each publish is answered before the next is sent, so `published` is in offset order.
    const published: string[] = [];
    const clients: RecordingClient[] = [];
    for (let i = 0; i < 4; i++) {
      const rc = recordingClient(scope, {
        url: `ws://127.0.0.1:${proxy.port}/ws`,
        channel: 'creator:demo-creator',
        token: () => mintToken('demo-fan-basic', { secret: TEST_SECRET }),
        publishedCount: () => published.length,
      });
      await rc.subscribed(); // one after the other: nginx's round robin spreads them
      clients.push(rc);
    }
    const onA = await metric(a.metricsPort, 'realtime_connections');
    const onB = await metric(b.metricsPort, 'realtime_connections');
    assert.deepEqual([onA + onB, onA > 0, onB > 0], [4, true, true], `nginx spread the sockets over both nodes (${onA}/${onB})`);

    const publish = async (base: string, n: number) => {
      const res = await fetch(`${base}/v1/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}` },
        body: JSON.stringify({ channel: 'creator:demo-creator', type: 'tick', data: { n } }),
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(res.status, 200, `publish ${n} through ${base}`);
      published.push(((await res.json()) as { id: string }).id);
    };
    const allReceived = (what: string) =>
      until(
        () => clients.every((c) => c.events.length >= published.length),
        15_000,
        () => `${what}: every client got every event (got ${clients.map((c) => c.events.length).join('/')} of ${published.length})`,
      );
    // Published through nginx (to either node) and to node A alone: node B's sockets get them across Redis.
    await publish(`http://127.0.0.1:${proxy.port}`, 0);
    await publish(`http://127.0.0.1:${a.port}`, 1);
    await allReceived('before the drain');

    // Drain node A while node B keeps publishing; A's clients are closed with 1012 and come back through nginx to B.
    let n = 2;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        await publish(`http://127.0.0.1:${b.port}`, n++);
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    a.child.kill('SIGTERM');
    try {
      assert.equal(await within(a.exited, 20_000, 'node A exits after its drain'), 0, 'node A drained and exited cleanly');
      // The last client A closed waits ~300 ms to reconnect: keep publishing past that.
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      publishing = false;
      await publisher;
    }
    const moved = clients.flatMap((c, i) => (c.closes.length > 0 ? [i] : []));
    assert.equal(moved.length, onA, 'the clients of node A, and only they, were moved');
    assert.ok(moved.every((i) => clients[i]!.closes.every((code) => code === 1012)), 'with 1012 server restart');
    assert.ok(n > 10, `events were published during the drain (${n - 2})`);
    await allReceived('after the drain');
    assert.equal(await metric(b.metricsPort, 'realtime_connections'), 4, 'every client is on node B now');

    const replays: number[] = [];
    clients.forEach((c, i) => {
      const { recoveries, replayed } = assertNothingLost(c, CHANNEL, published, `client ${i}`);
      if (moved.includes(i)) {
        assert.equal(recoveries, c.closes.length, `client ${i}: recovered once per move`);
        assert.ok(replayed > 0, `client ${i}: got the events published while it reconnected from the replay (${replayed})`);
        replays.push(replayed);
      } else {
        assert.equal(recoveries, 0, `client ${i} stayed on its socket`);
      }
    });
    t.diagnostic(`${published.length} events, all delivered once and in order to 4 clients; ${moved.length} moved, replayed ${replays.join(', ')}`);

    const log = await readFile(join(proxy.dir, 'access.log'), 'utf8');
    assert.match(log, /"GET \/ws HTTP\/1\.1" 101 /, 'the upgrades went through nginx');
    assert.doesNotMatch(log, /token=/);
  },
);

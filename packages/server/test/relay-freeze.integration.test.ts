/**
 * A node frozen (SIGSTOP) while its relay holds an outbox partition: three gateway processes (the CLI) on one
 * PostgreSQL database and a Redis of the test's own, 8 partitions. While the node is frozen for 10 s, the other
 * nodes' clients keep receiving that partition's events within a few seconds (PostgreSQL ends the frozen
 * relay's transaction, which frees the partition); after SIGCONT every client of every node has every event of
 * its user once, in offset order.
 *
 * PGlite is single-process, so this test always runs on a real PostgreSQL (see createPostgresTestDatabase).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import WebSocket from 'ws';
import { mintToken } from '../src/auth/tokens.ts';
import { queryRows, type Database } from '../src/db/client.ts';
import { channelPartition } from '../src/db/outbox.ts';
import { createPostgresTestDatabase } from './helpers/database.ts';
import { freePort, startOwnRedis } from './helpers/redis.ts';
import { reverseScope } from './helpers/teardown.ts';

const CLI = fileURLToPath(new URL('../bin/fonana-realtime.js', import.meta.url));
const SECRET = 'freeze-test-secret-0123456789-abcdefghij';
const API_KEY = 'freeze-test-api-key-0123456789';
const PARTITIONS = 8;
const USERS = Array.from({ length: 24 }, (_, i) => `freeze-u${i}`);
/** RELAY_LOCK_CLASS of outbox/relay.ts: the first key of every partition's advisory lock. */
const RELAY_LOCK_CLASS = 0x666e726c;
const FREEZE_MS = 10_000;
/** "Within a few seconds": the relay's hold bound (3 s) plus a poll and a loaded machine's slack. */
const MAX_LATENCY_MS = 8000;

interface Received {
  id: string;
  offset: number;
  at: number;
}

// Its own timeout, well under the runner's: a stuck run fails here and the teardown still stops the three nodes.
test('a node frozen while holding a partition stalls it for a few seconds at most; after SIGCONT nothing is lost or repeated', { timeout: 240_000 }, async (t) => {
  const nodeLog: string[] = [];
  let finished = false;
  t.after(() => {
    if (!finished) t.diagnostic(`the nodes' last log lines (warn and above):\n${nodeLog.slice(-40).join('\n')}`);
  });
  const scope = reverseScope(t);
  const { db, url } = await createPostgresTestDatabase(scope);
  const redis = await startOwnRedis(scope);
  await db.orm.execute(sql`insert into users (id, wallet, "updatedAt")
    select id, 'wallet-' || id, now() from unnest(${sql.raw(`array[${USERS.map((u) => `'${u}'`).join(',')}]`)}) as id`);
  const dataDir = await mkdtemp(join(tmpdir(), 'rt-freeze-'));
  scope.after(() => rm(dataDir, { recursive: true, force: true }));
  const prefix = `rt-freeze-${randomUUID()}:`;
  const nodes = await Promise.all(['a', 'b', 'c'].map((name) => startNode(scope, name, url!, redis.url, prefix, dataDir, nodeLog)));
  const [a, b, c] = nodes as [Node, Node, Node];

  // Every user has a socket on each node; each socket records its user's events.
  const sockets = new Map<string, Received[]>();
  await Promise.all(
    nodes.flatMap((node) =>
      USERS.map(async (user) => {
        const received: Received[] = [];
        sockets.set(`${node.name}/${user}`, received);
        await openSocket(scope, node, user, received);
      }),
    ),
  );

  // Events published steadily through node b, each remembered with the time its publish was answered.
  const published: { id: string; user: string; at: number }[] = [];
  let publishing = true;
  const publisher = (async () => {
    for (let seq = 0; publishing; seq++) {
      const user = USERS[seq % USERS.length]!;
      const res = await fetch(`${b.httpUrl}/v1/publish`, {
        method: 'POST',
        signal: AbortSignal.timeout(10_000),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        body: JSON.stringify({ userId: user, type: 'tick', data: { seq } }),
      });
      assert.equal(res.status, 200);
      published.push({ id: ((await res.json()) as { id: string }).id, user, at: Date.now() });
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  })();
  await until(() => published.length >= 20, 'the first events', 20_000);

  // Stop node a at a moment its relay holds a partition (checked in pg_locks while it is stopped).
  const held = await freezeWhileHolding(db, a);
  const frozenAt = Date.now();
  const heldUsers = USERS.filter((u) => channelPartition(`user_${u}`, PARTITIONS) === held);
  assert.ok(heldUsers.length > 0, `some user's channel is in partition ${held}`);
  await new Promise((resolve) => setTimeout(resolve, FREEZE_MS));

  // While a is still stopped: every event of the held partition published during the freeze reached b's and c's
  // sockets within MAX_LATENCY_MS (those younger than that may still be on their way).
  const checkedAt = Date.now();
  const duringFreeze = published.filter((p) => p.at > frozenAt + 500 && heldUsers.includes(p.user));
  assert.ok(duringFreeze.length > 0, 'events of the held partition were published during the freeze');
  let slowest = 0;
  let delivered = 0;
  for (const event of duringFreeze) {
    for (const node of [b, c]) {
      const got = sockets.get(`${node.name}/${event.user}`)!.find((r) => r.id === event.id);
      if (!got) {
        assert.ok(checkedAt - event.at < MAX_LATENCY_MS, `event ${event.id} of partition ${held} reached ${node.name} while a was frozen`);
        continue;
      }
      delivered++;
      assert.ok(got.at - event.at < MAX_LATENCY_MS, `delivered after ${got.at - event.at} ms`);
      slowest = Math.max(slowest, got.at - event.at);
    }
  }
  assert.ok(delivered > 0, 'some were delivered during the freeze');
  t.diagnostic(`partition ${held} held by the frozen node: ${duringFreeze.length} of its events published during the freeze, ${delivered / 2} delivered to b and c before SIGCONT, slowest ${slowest} ms`);
  a.child.kill('SIGCONT');

  await new Promise((resolve) => setTimeout(resolve, 2000));
  publishing = false;
  await publisher;
  const expected = new Map<string, string[]>();
  for (const p of published) expected.set(p.user, [...(expected.get(p.user) ?? []), p.id]);
  await until(
    () => [...sockets].every(([key, received]) => received.length >= expected.get(key.split('/')[1]!)!.length),
    'every socket to have every event of its user',
    30_000,
  );
  await new Promise((resolve) => setTimeout(resolve, 500)); // a duplicate would arrive by now
  for (const [key, received] of sockets) {
    const user = key.split('/')[1]!;
    assert.deepEqual(new Set(received.map((r) => r.id)), new Set(expected.get(user)), `${key}: every event`);
    assert.equal(received.length, expected.get(user)!.length, `${key}: each once`);
    assert.deepEqual(received.map((r) => r.offset), received.map((_, i) => i + 1), `${key}: in offset order`);
  }
  const [left] = await queryRows<{ n: string }>(db.orm, sql`select count(*) as n from realtime.outbox where published_at is null`);
  assert.equal(Number(left!.n), 0, 'every row marked published');
  finished = true;
});

interface Node {
  name: string;
  child: ChildProcess;
  httpUrl: string;
  wsUrl: string;
}

async function startNode(
  t: { after(fn: () => unknown): void },
  name: string,
  dbUrl: string,
  redisUrl: string,
  prefix: string,
  dataDir: string,
  log: string[],
): Promise<Node> {
  const port = await freePort();
  const url = new URL(dbUrl);
  url.searchParams.set('application_name', `rt-freeze-${name}`);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    DATABASE_URL: url.toString(),
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    NEXTAUTH_SECRET: SECRET,
    REALTIME_API_KEY: API_KEY,
    PORT: String(port),
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    DATA_DIR: join(dataDir, name),
    LOG_LEVEL: process.env.FREEZE_LOG_LEVEL ?? 'warn',
    MIGRATE_ON_START: 'false',
    OUTBOX_PARTITIONS: String(PARTITIONS),
    OUTBOX_POLL_MS: '200',
  };
  // Piped, never inherited: a node outliving this process must not hold the test runner's output open.
  const child = spawn(process.execPath, [CLI, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => log.push(`${name}: ${line}`));
  }
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  });
  const httpUrl = `http://127.0.0.1:${port}`;
  await until(
    async () => (await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => null))?.status === 200,
    `node ${name} to be ready`,
    120_000,
  );
  return { name, child, httpUrl, wsUrl: `ws://127.0.0.1:${port}/ws` };
}

async function openSocket(t: { after(fn: () => unknown): void }, node: Node, user: string, received: Received[]): Promise<void> {
  const token = await mintToken(user, { secret: SECRET, expiresInSeconds: 600, issuer: null, audience: null });
  const ws = new WebSocket(`${node.wsUrl}?token=${token}`);
  t.after(() => ws.terminate());
  const connected = new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('close', (code, reason) => reject(new Error(`${user} on node ${node.name} closed ${code} ${String(reason)} before 'connected'`)));
    setTimeout(() => reject(new Error(`${user} on node ${node.name}: no 'connected' within 30 s`)), 30_000).unref();
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string; id?: string; offset?: number };
      if (frame.type === 'connected') resolve();
      if (frame.type === 'tick') received.push({ id: frame.id!, offset: frame.offset!, at: Date.now() });
    });
  });
  await connected;
}

/**
 * Sends SIGSTOP to the node and checks pg_locks: when its relay holds a partition lock, returns that partition
 * with the node left stopped; otherwise SIGCONT and another try a moment later.
 */
async function freezeWhileHolding(db: Database, node: Node): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    node.child.kill('SIGSTOP');
    const rows = await queryRows<{ partition: number }>(
      db.orm,
      sql`select l.objid::int as partition from pg_locks l join pg_stat_activity a on a.pid = l.pid
          where l.locktype = 'advisory' and l.granted and l.classid = ${RELAY_LOCK_CLASS}::oid
            and a.application_name = ${`rt-freeze-${node.name}`}`,
    );
    if (rows.length > 0) return rows[0]!.partition;
    node.child.kill('SIGCONT');
    assert.ok(Date.now() < deadline, 'the node never held a partition');
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 30));
  }
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}


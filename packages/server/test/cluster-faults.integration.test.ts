/**
 * Issue 7's acceptance run: three gateway processes on one PostgreSQL and a Redis of the test's own; clients that
 * reconnect to any live node and resubscribe with `since`; events published steadily; mid-stream one node is
 * SIGKILLed, Redis is killed and restarted, and the nodes' subscriber connections are dropped. Every client must end
 * with every event, in order, each once; the clients of the killed node must have been recovered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { mintToken } from '../src/auth/tokens.ts';
import { seed } from '../src/db/seed.ts';
import { createPostgresTestDatabase } from './helpers/database.ts';
import { TEST_API_KEY, TEST_SECRET } from './helpers/gateway.ts';
import { startOwnRedis } from './helpers/redis.ts';

const BIN = new URL('../bin/fonana-realtime.js', import.meta.url).pathname;
const EVENTS = 150;
const CLIENTS_PER_NODE = 3;

interface GatewayProcess {
  child: ChildProcess;
  port: number;
  alive: boolean;
  /** The node's warnings and errors (pino levels 40 and up), for the failure message. */
  warnings: string[];
}

async function startProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [BIN, 'serve'], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const warnings: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => warnings.push(line));
  const port = await new Promise<number>((resolve, reject) => {
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (lines.length < 50) lines.push(line);
      if (/"level":(4|5|6)0/.test(line)) warnings.push(line.slice(0, 400));
      if (line.includes('"gateway listening"')) resolve(JSON.parse(line).port as number);
    });
    child.on('exit', (code) => reject(new Error(`gateway exited early with ${code}: ${lines.join('\n')}`)));
  });
  const proc = { child, port, alive: true, warnings };
  child.on('exit', () => (proc.alive = false));
  return proc;
}

/** A client as an SDK would be: tracks offset and epoch, reconnects to the next live node, resubscribes with since. */
class Follower {
  readonly ids: string[] = [];
  readonly problems: string[] = [];
  readonly recoveries: boolean[] = [];
  /** What this client went through (connects, closes, frames other than ticks), for the failure message. */
  readonly trace: string[] = [];
  offset = -1;
  epoch: string | null = null;
  nodeIndex: number;
  #socket: WebSocket | null = null;
  #stopped = false;

  constructor(
    readonly nodes: GatewayProcess[],
    readonly token: string,
    startAt: number,
  ) {
    this.nodeIndex = startAt;
  }

  connect(): void {
    if (this.#stopped) return;
    let node = this.nodes[this.nodeIndex]!;
    for (let i = 0; !node.alive && i < this.nodes.length; i++) {
      this.nodeIndex = (this.nodeIndex + 1) % this.nodes.length;
      node = this.nodes[this.nodeIndex]!;
    }
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/ws?token=${this.token}`);
    this.#socket = ws;
    this.trace.push(`${Date.now() % 100_000} connect node ${this.nodeIndex}`);
    ws.on('error', (err) => this.trace.push(`error ${err.message}`));
    ws.on('message', (raw) => this.#onFrame(ws, JSON.parse(raw.toString())));
    ws.on('close', (code, reason) => {
      this.trace.push(`${Date.now() % 100_000} close ${code} ${String(reason)}`);
      if (this.#socket !== ws || this.#stopped) return;
      this.nodeIndex = (this.nodeIndex + 1) % this.nodes.length;
      setTimeout(() => this.connect(), 50);
    });
  }

  #subscribe(ws: WebSocket): void {
    const since = this.epoch === null ? undefined : { offset: this.offset, epoch: this.epoch };
    ws.send(JSON.stringify({ type: 'subscribe', channel: 'post:demo-post-free', ...(since ? { since } : {}) }));
  }

  #onFrame(ws: WebSocket, frame: any): void {
    if (frame.type !== 'tick') this.trace.push(`${Date.now() % 100_000} ${JSON.stringify(frame).slice(0, 200)}`);
    switch (frame.type) {
      case 'connected':
        return this.#subscribe(ws);
      case 'subscribed':
        if (frame.data.recovered !== undefined) this.recoveries.push(frame.data.recovered);
        if (frame.data.recovered === false) this.problems.push(`not recovered at ${this.offset} on node ${this.nodeIndex}`);
        if (this.epoch === null) this.offset = frame.data.offset;
        this.epoch = frame.data.epoch;
        return;
      case 'unsubscribed':
        if (frame.data.reason === 'resync') this.#subscribe(ws);
        return;
      case 'tick':
        if (frame.offset !== this.offset + 1) this.problems.push(`offset ${frame.offset} after ${this.offset}`);
        else {
          this.ids.push(frame.id);
          this.offset = frame.offset;
        }
        return;
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#socket?.terminate();
  }
}

test('three processes, a node killed, Redis restarted, subscribers dropped: every client gets every event once, in order', { timeout: 300_000 }, async (t) => {
  const { db, url } = await createPostgresTestDatabase(t);
  await seed(db);
  const redis = await startOwnRedis(t);
  const env = {
    NEXTAUTH_SECRET: TEST_SECRET,
    REALTIME_API_KEY: TEST_API_KEY,
    DATABASE_URL: url!,
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'rt-three:',
    PORT: '0',
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    MIGRATE_ON_START: 'false',
    OUTBOX_POLL_MS: '200',
  };
  const nodes = await Promise.all([0, 1, 2].map(() => startProcess(env)));
  t.after(() => {
    for (const node of nodes) if (node.alive) node.child.kill('SIGKILL');
  });

  const token = await mintToken('demo-fan-basic', { secret: TEST_SECRET, expiresInSeconds: 600 });
  const followers = nodes.flatMap((_, n) => Array.from({ length: CLIENTS_PER_NODE }, () => new Follower(nodes, token, n)));
  t.after(() => followers.forEach((f) => f.stop()));
  followers.forEach((f) => f.connect());
  await until(() => followers.every((f) => f.epoch !== null), 'every client is subscribed', 30_000).catch((err: Error) => {
    const waiting = followers.filter((f) => f.epoch === null).map((f) => f.trace.join('\n  '));
    const logs = nodes.map((n, i) => `node ${i}:\n${n.warnings.slice(-15).join('\n')}`).join('\n');
    throw new Error(`${err.message}; not subscribed:\n  ${waiting.join('\n---\n  ')}\n${logs}`);
  });

  const published: string[] = [];
  let target = 0;
  const publishOne = async (i: number) => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const node = nodes[(target = (target + 1) % nodes.length)]!;
      if (!node.alive) continue;
      try {
        const res = await fetch(`http://127.0.0.1:${node.port}/v1/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}` },
          body: JSON.stringify({ channel: 'post:demo-post-free', type: 'tick', data: { i }, idempotencyKey: `three-${i}` }),
        });
        if (res.status === 200) return (await res.json()).id as string;
      } catch {
        // that node is gone: try the next
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`event ${i} could not be published`);
  };

  const victims = followers.filter((f) => f.nodeIndex === 0);
  for (let i = 0; i < EVENTS; i++) {
    if (i === 40) nodes[0]!.child.kill('SIGKILL');
    if (i === 80) {
      await redis.kill();
      await new Promise((r) => setTimeout(r, 300));
      await redis.start();
    }
    if (i === 110 || i === 125) await killSubscribers(redis.url);
    published.push(await publishOne(i));
    await new Promise((r) => setTimeout(r, 25));
  }

  await until(() => followers.every((f) => f.ids.length >= EVENTS || f.problems.length > 0), 'every client has every event', 90_000).catch(
    () => null,
  );
  for (const [i, f] of followers.entries()) {
    assert.deepEqual(f.problems, [], `client ${i}`);
    assert.equal(f.ids.length, EVENTS, `client ${i} has every event`);
    assert.deepEqual(f.ids, published, `client ${i}: every event in order, each once`);
  }
  for (const f of victims) assert.ok(f.recoveries.length > 0 && f.recoveries.every((r) => r), 'clients of the killed node were recovered');
});

/** `CLIENT KILL TYPE pubsub`: drops every node's subscriber connection at once. */
async function killSubscribers(url: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    await redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
  } finally {
    redis.disconnect();
  }
}

async function until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Outbox relay throughput with 1 and with 8 partitions: K committed events on 200 channels wait in the outbox,
 * then two relays (two database pools, as on two nodes) publish them to Redis; the figure is events per second
 * from the relays' start until the last row is published. Rounds alternate 1 / 8 partitions so both see the
 * same machine load.
 *
 * Run: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 node --import tsx bench/relay-throughput.ts [K] [rounds]
 * A fresh database is created on that server and dropped afterwards.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { RedisBroker } from '../packages/server/src/broker/redis-broker.ts';
import { openDatabase, type Database } from '../packages/server/src/db/client.ts';
import { migrate } from '../packages/server/src/db/migrate.ts';
import { appendEvents } from '../packages/server/src/db/outbox.ts';
import { createLogger } from '../packages/server/src/logger.ts';
import { OutboxRelay } from '../packages/server/src/outbox/relay.ts';

const K = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const admin = process.env.BENCH_DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if (!admin || !redisUrl) throw new Error('set BENCH_DATABASE_URL and REDIS_URL');

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(text);
  await client.end();
}

const name = `rt_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
await adminQuery(`CREATE DATABASE ${name}`);
const url = new URL(admin);
url.pathname = `/${name}`;
const dbs: Database[] = [await openDatabase({ url: url.toString() }), await openDatabase({ url: url.toString() })];
await migrate(dbs[0]!);
const logger = createLogger('silent');

async function fill(): Promise<void> {
  for (let i = 0; i < K; i += 1000) {
    const events = Array.from({ length: Math.min(1000, K - i) }, (_, j) => ({ channel: `post_bench${(i + j) % 200}`, type: 'bench', data: { n: i + j } }));
    await dbs[0]!.orm.transaction((tx) => appendEvents(tx, events));
  }
}

/** Events per second for one round with `partitions`. */
async function round(partitions: number): Promise<number> {
  await dbs[0]!.orm.execute(sql`delete from realtime.outbox`);
  await fill();
  const brokers = dbs.map(() => new RedisBroker({ url: redisUrl!, prefix: `rt-bench-${randomUUID()}:`, onError: () => {} }));
  let published = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => (done = resolve));
  const relays = dbs.map(
    (db, i) =>
      new OutboxRelay({
        db,
        broker: brokers[i]!,
        logger,
        pollMs: 50,
        retentionMs: 3600_000,
        partitions,
        onPublished: (count) => {
          published += count;
          if (published >= K) done();
        },
      }),
  );
  const started = performance.now();
  await Promise.all(relays.map((r) => r.start()));
  await all;
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(relays.map((r) => r.stop()));
  await Promise.all(brokers.map((b) => b.close()));
  return K / seconds;
}

const rates = new Map<number, number[]>([
  [1, []],
  [8, []],
]);
await round(8); // warm-up
for (let r = 0; r < ROUNDS; r++) for (const partitions of [1, 8]) rates.get(partitions)!.push(await round(partitions));
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const base = median(rates.get(1)!);
console.log(`${K} events on 200 channels, two relays, ${ROUNDS} rounds each (median)`);
console.log('| partitions | events/s (median) | rounds | vs 1 partition |');
console.log('|---:|---:|---|---:|');
for (const [partitions, xs] of rates) {
  console.log(`| ${partitions} | ${Math.round(median(xs)).toLocaleString('en-US')} | ${xs.map((x) => Math.round(x)).join(', ')} | ${(median(xs) / base).toFixed(2)}× |`);
}
for (const db of dbs) await db.close();
await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);

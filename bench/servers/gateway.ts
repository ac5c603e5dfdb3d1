/**
 * fonana-realtime under test, in its own process (started by bench/lib/servers.ts, pinned to a core): the real
 * GatewayNode on PostgreSQL at DATABASE_URL (a fresh database made by the bench) or on an in-memory PGlite, with BENCH_USERS users `bench-u-<i>` beside the demo world.
 * BENCH_SEED=0 skips migrate/seed (a second node on an already prepared database). With PGlite, the migrated and
 * seeded data folder is dumped to BENCH_PGLITE_TEMPLATE by the first gateway of a run and loaded by the next ones.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../packages/server/src/config/config.ts';
import { openDatabase } from '../../packages/server/src/db/client.ts';
import { migrate } from '../../packages/server/src/db/migrate.ts';
import { seed } from '../../packages/server/src/db/seed.ts';
import { createLogger } from '../../packages/server/src/logger.ts';
import { GatewayNode } from '../../packages/server/src/node.ts';
import { serveIpc } from './ipc.ts';

const users = Number(process.env.BENCH_USERS ?? 0);
const url = process.env.DATABASE_URL;
const template = url ? undefined : process.env.BENCH_PGLITE_TEMPLATE;
const fromTemplate = template !== undefined && existsSync(template);
const pglite = url ? undefined : fromTemplate ? new PGlite({ loadDataDir: new Blob([readFileSync(template!)]) }) : new PGlite();
const db = await openDatabase(url ? { url } : { pglite });
if (process.env.BENCH_SEED !== '0') {
  if (!fromTemplate) {
    await migrate(db);
    await seed(db);
    if (template) {
      await pglite!.exec('checkpoint');
      writeFileSync(template, Buffer.from(await (await pglite!.dumpDataDir('none')).arrayBuffer()));
    }
  }
  if (users > 0) {
    await db.orm.execute(
      sql`insert into users (id, wallet, "updatedAt")
          select 'bench-u-' || g, 'bench-w-' || g, now() from generate_series(0, ${users - 1}::int) g
          on conflict do nothing`,
    );
  }
}
const config = loadConfig({
  NEXTAUTH_SECRET: process.env.BENCH_SECRET!,
  REALTIME_API_KEY: process.env.BENCH_API_KEY!,
  PAYMENT_WEBHOOK_SECRET: process.env.BENCH_WEBHOOK_SECRET!,
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'silent',
  MIGRATE_ON_START: 'false',
  // Bench setting: every load-generator client comes from one of four loopback addresses (bench/lib/loadgen.ts), so
  // the per-address defaults (1,000 sockets, 50 unauthenticated, 50 upgrades/s per address) would cap a 10k run at
  // 4,000 sockets and pace its connects at 200/s. Lifted here, as a deployment behind a trusted proxy would see them
  // per real client.
  MAX_SOCKETS_PER_ADDRESS: '10000000',
  MAX_UNAUTHENTICATED_PER_ADDRESS: '10000000',
  MAX_CONNECT_RATE_PER_ADDRESS: '1000000',
  // BENCH_HISTORY_CACHE_EVENTS: the history cache's size per channel (0: no cache; bench/recovery-storm.ts's peer).
  ...(process.env.BENCH_HISTORY_CACHE_EVENTS ? { HISTORY_CACHE_EVENTS: process.env.BENCH_HISTORY_CACHE_EVENTS } : {}),
  ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL, REDIS_PREFIX: process.env.REDIS_PREFIX ?? 'rt-bench:' } : {}),
});
const node = await GatewayNode.start({ config, logger: createLogger('silent'), secret: config.nextAuthSecret!, db, metrics: false });
// Counters a bench reads before and after a phase (history queries and reads, recoveries by outcome).
const counters = async () => {
  const values = async (metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }) =>
    Object.fromEntries((await metric.get()).values.map((v) => [Object.values(v.labels).join(',') || 'total', v.value]));
  return {
    historyQueries: await values(node.metrics.historyQueries),
    historyReads: await values(node.metrics.historyReads),
    recoveries: await values(node.metrics.recoveries),
  };
};
serveIpc(node.port, {}, counters);

/**
 * Memory per idle connection of `fonana-realtime serve` with WORKERS=1 and WORKERS=2 (PostgreSQL, no Redis: the
 * workers' in-machine bus). N clients, each authenticated with 2 subscriptions (the idle-memory scenario's clients),
 * spread by node:cluster over the workers; the RSS of the whole process tree (the primary and every worker, read from
 * /proc) before and after, per connection. The process tree is the CLI's, as deployed (no forced GC: the figures are
 * after a 5 s settle).
 *
 * Run: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx bench/workers-memory.ts [N=2000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../packages/server/src/db/client.ts';
import { migrate } from '../packages/server/src/db/migrate.ts';
import { seed } from '../packages/server/src/db/seed.ts';
import { ClientPool } from './lib/loadgen.ts';
import { PACE } from './lib/scenario.ts';
import { API_KEY, clientSpec, freshDatabase, pinLoadGenerator, SECRET } from './lib/servers.ts';

const BIN = new URL('../packages/server/bin/fonana-realtime.js', import.meta.url).pathname;
const n = Number(process.argv[2] ?? 2000);
if (!process.env.BENCH_DATABASE_URL) throw new Error('set BENCH_DATABASE_URL');
pinLoadGenerator();

function rssKb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(workers: number): Promise<Record<string, string | number>> {
  const db = await freshDatabase();
  const conn = await openDatabase({ url: db.url! });
  await migrate(conn);
  await seed(conn);
  await conn.orm.execute(
    sql`insert into users (id, wallet, "updatedAt") select 'bench-u-' || g, 'bench-w-' || g, now() from generate_series(0, ${n - 1}::int) g on conflict do nothing`,
  );
  await conn.close();
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      PATH: process.env.PATH,
      WORKERS: String(workers),
      DATABASE_URL: db.url,
      NEXTAUTH_SECRET: SECRET,
      REALTIME_API_KEY: API_KEY,
      PORT: '0',
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      MIGRATE_ON_START: 'false',
      DRAIN_MS: '0',
      MAX_SOCKETS_PER_ADDRESS: '1000000',
      MAX_UNAUTHENTICATED_PER_ADDRESS: '1000000',
      MAX_CONNECT_RATE_PER_ADDRESS: '1000000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.resume();
  const pids = new Set<number>([child.pid!]);
  const listening = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const l = JSON.parse(line) as Record<string, any>;
      if (typeof l.worker === 'number' && typeof l.pid === 'number') pids.add(l.pid);
      if (l.msg === 'gateway listening' && l.worker === undefined) resolve(l as { port: number; metricsPort: number });
    });
  });
  const pool = new ClientPool({ pace: PACE, timeoutMs: 300_000 });
  try {
    await sleep(5000);
    const total = () => [...pids].reduce((sum, pid) => sum + rssKb(pid), 0);
    const before = total();
    await pool.open(Array.from({ length: n }, (_, i) => clientSpec('fonana-realtime', listening.port, i, true)));
    await sleep(5000);
    const after = total();
    const metrics = await (await fetch(`http://127.0.0.1:${listening.metricsPort}/metrics`)).text();
    const connections = Number(/^realtime_connections (\d+)/m.exec(metrics)?.[1]);
    return {
      WORKERS: workers,
      processes: pids.size,
      clients: n,
      'realtime_connections': connections,
      'RSS before MB': Math.round(before / 1024),
      'RSS after MB': Math.round(after / 1024),
      'RSS KB/conn': Math.round(((after - before) / n) * 100) / 100,
      'of which the primary MB': workers > 1 ? Math.round(rssKb(child.pid!) / 1024) : '—',
    };
  } finally {
    pool.destroy();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(30_000)]);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await db.drop();
  }
}

const rows = [];
for (const workers of [1, 2]) rows.push(await measure(workers));
const columns = Object.keys(rows[0]!);
console.log(`| ${columns.join(' | ')} |\n|${columns.map(() => '---').join('|')}|`);
for (const row of rows) console.log(`| ${columns.map((c) => row[c]).join(' | ')} |`);
process.exit(0);

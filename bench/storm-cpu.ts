/**
 * Connect storm (as bench/scenarios/connect-storm.ts: BENCH_STORM_SOCKETS clients, PACE handshakes in flight) that
 * reports, per peer, the server's CPU time per connect (utime + stime of its process from /proc over the storm, so
 * time the server was preempted does not count, unlike a CPU profile's samples), the wall time, and for
 * fonana-realtime on PostgreSQL (BENCH_DATABASE_URL) the statements it ran (pg_stat_database commits + rollbacks).
 *
 *   BENCH_DATABASE_URL=postgres://… node --import tsx bench/storm-cpu.ts        (PEERS=fonana-realtime,ws by default)
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { ClientPool } from './lib/loadgen.ts';
import { PACE } from './lib/scenario.ts';
import { clientSpec, freshDatabase, pinLoadGenerator, startServer, type Peer } from './lib/servers.ts';
pinLoadGenerator();
const n = Number(process.env.BENCH_STORM_SOCKETS ?? 10000);
const cpuMs = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const out: Record<string, unknown>[] = [];
for (const peer of (process.env.PEERS ?? 'fonana-realtime,ws').split(',') as Peer[]) {
  const db = peer === 'fonana-realtime' ? await freshDatabase() : { url: undefined, drop: async () => {} };
  const env: Record<string, string> = { BENCH_USERS: String(n) };
  if (db.url) env.DATABASE_URL = db.url;
  const server = await startServer(peer, { env });
  let admin: pg.Client | null = null;
  const name = db.url ? new URL(db.url).pathname.slice(1) : '';
  const stat = async () => { if (!admin) return 0; await admin.query('select pg_stat_clear_snapshot()'); return Number((await admin.query(`select xact_commit + xact_rollback as x from pg_stat_database where datname = $1`, [name])).rows[0].x); };
  if (db.url) { admin = new pg.Client({ connectionString: process.env.BENCH_DATABASE_URL }); await admin.connect(); }
  await new Promise((r) => setTimeout(r, 1500));
  const s0 = await stat(); const c0 = cpuMs(server.pid);
  const pool = new ClientPool({ pace: PACE, timeoutMs: 180_000 });
  const t0 = performance.now();
  await pool.open(Array.from({ length: n }, (_, i) => clientSpec(peer, server.port, i, false)));
  const ms = performance.now() - t0;
  const c1 = cpuMs(server.pid);
  await new Promise((r) => setTimeout(r, 1200));
  const s1 = await stat();
  out.push({ peer, seconds: +(ms / 1000).toFixed(2), cpuMsPerConnect: +((c1 - c0) / n).toFixed(3), statements: s1 - s0 });
  pool.destroy();
  await admin?.end();
  await server.stop();
  await db.drop();
}
console.log(JSON.stringify(out));

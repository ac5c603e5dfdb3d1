/**
 * All cores vs one, and fan-out through two nodes on Redis: N subscribers of one channel, split evenly over two
 * fonana-realtime nodes (one pinned to each core, sharing PostgreSQL, fanning out through Redis), against one node
 * on one core and the raw peers on one core, in the same run. Bursts as in the fan-out scenario, published to the
 * first node; light load (4 events/s) too. Needs BENCH_DATABASE_URL and REDIS_URL; without them it reports nothing.
 * The load generator shares the second core with the second node here.
 *
 * Run alone: BENCH_DATABASE_URL=… REDIS_URL=… node --import tsx bench/scenarios/cores.ts [--smoke]
 */
import { randomUUID } from 'node:crypto';
import { ClientPool } from '../lib/loadgen.ts';
import { Publisher, settledLater } from '../lib/publisher.ts';
import type { Row } from '../lib/report.ts';
import { clientSpec, freshDatabase, startServer, type Peer, type RunningServer } from '../lib/servers.ts';
import { PACE, ratio, round, runIfMain, type Scenario } from '../lib/scenario.ts';

interface Setup {
  label: string;
  peer: Peer;
  /** One core per server. */
  cores: number[];
}

const SETUPS: Setup[] = [
  { label: 'fonana-realtime, 2 nodes on 2 cores (Redis)', peer: 'fonana-realtime', cores: [0, 1] },
  { label: 'fonana-realtime, 1 node on 1 core (Redis)', peer: 'fonana-realtime', cores: [0] },
  { label: 'raw-coalesced, 1 core', peer: 'raw-coalesced', cores: [0] },
  { label: 'raw, 1 core', peer: 'raw', cores: [0] },
];

export const cores: Scenario = async ({ smoke }) => {
  const n = smoke ? 20 : Number(process.env.BENCH_CORES_SOCKETS ?? 5000);
  const bursts = smoke ? 2 : 5;
  const burstSize = smoke ? 10 : 100;
  const lightEvents = smoke ? 4 : 40;
  if (!process.env.BENCH_DATABASE_URL || !process.env.REDIS_URL) {
    return { scenario: 'cores', settings: { skipped: 'needs BENCH_DATABASE_URL and REDIS_URL' }, rows: [], chart: [] };
  }
  const rows: Row[] = [];
  for (const setup of SETUPS) {
    const db = setup.peer === 'fonana-realtime' ? await freshDatabase() : { url: undefined, drop: async () => {} };
    const prefix = `rt-bench-${randomUUID()}:`;
    const servers: RunningServer[] = [];
    const pool = new ClientPool({ pace: PACE, timeoutMs: 180_000 });
    let publisher: Publisher | null = null;
    try {
      for (const [i, core] of setup.cores.entries()) {
        const env: Record<string, string> = { BENCH_USERS: String(n), BENCH_SEED: i === 0 ? '1' : '0' };
        if (db.url) Object.assign(env, { DATABASE_URL: db.url, REDIS_URL: process.env.REDIS_URL, REDIS_PREFIX: prefix });
        servers.push(await startServer(setup.peer, { core, env }));
      }
      await pool.open(Array.from({ length: n }, (_, i) => clientSpec(setup.peer, servers[i % servers.length]!.port, i, false)));
      publisher = new Publisher(setup.peer, servers[0]!.port);
      let expected = pool.deliveries + burstSize * n;
      await publisher.burst(burstSize);
      await pool.waitFor(() => pool.deliveries >= expected, 120_000, 'warm-up');
      pool.latency.reset();
      const before = pool.deliveries;
      const started = performance.timeOrigin + performance.now();
      for (let b = 0; b < bursts; b++) {
        expected = pool.deliveries + burstSize * n;
        await publisher.burst(burstSize);
        await pool.waitFor(() => pool.deliveries >= expected, 120_000, 'burst');
      }
      const rate = Math.round((pool.deliveries - before) / ((pool.lastDeliveryAt - started) / 1000));
      const burstP99 = pool.latency.percentile(99);
      pool.latency.reset();
      expected = pool.deliveries + lightEvents * n;
      const t0 = performance.now();
      const sends: Promise<void>[] = [];
      for (let i = 0; i < lightEvents; i++) {
        await new Promise((r) => setTimeout(r, Math.max(0, t0 + i * 250 - performance.now())));
        sends.push(settledLater(publisher.one()));
      }
      await Promise.all(sends);
      await pool.waitFor(() => pool.deliveries >= expected, 60_000, 'light-load deliveries');
      rows.push({ setup: setup.label, sockets: n, 'deliveries/s': rate, 'burst p99 ms': round(burstP99, 1), 'light p99 ms': round(pool.latency.percentile(99), 1) });
    } finally {
      publisher?.close();
      for (const s of servers) await s.stop();
      pool.destroy();
      await db.drop();
    }
  }
  const rc = rows.find((r) => (r.setup as string).startsWith('raw-coalesced'));
  const raw = rows.find((r) => (r.setup as string).startsWith('raw,'));
  return {
    scenario: 'cores',
    settings: { sockets: n, bursts, burstSize, lightEventsPerSecond: 4, lightEvents, placement: 'servers pinned as labelled; load generator on core 1' },
    rows: rows.map((r) => ({
      ...r,
      'rate vs raw-coalesced': ratio(r['deliveries/s'] as number, rc?.['deliveries/s'] as number),
      'light p99 vs raw': ratio(r['light p99 ms'] as number, raw?.['light p99 ms'] as number),
    })),
    chart: [
      { column: 'deliveries/s', unit: 'higher is better' },
      { column: 'light p99 ms', unit: 'lower is better' },
    ],
  };
};

await runIfMain(import.meta.url, cores);

/**
 * Light-load latency: N subscribers (5,000) of one channel, one event every 250 ms (4/s) for D seconds; per-delivery
 * latency p50/p99 (publisher's send → the frame read by the client). Burst latency is in the fan-out scenario.
 *
 * Run alone: node --import tsx bench/scenarios/latency.ts [--smoke] [--peers=…]
 */
import type { Row } from '../lib/report.ts';
import { PEERS } from '../lib/servers.ts';
import { ratio, round, runIfMain, startSession, type Scenario } from '../lib/scenario.ts';
import { settledLater } from '../lib/publisher.ts';

export const latency: Scenario = async ({ smoke, peers = PEERS }) => {
  const n = smoke ? 20 : Number(process.env.BENCH_LATENCY_SOCKETS ?? 5000);
  const seconds = smoke ? 1 : Number(process.env.BENCH_LATENCY_SECONDS ?? 15);
  const intervalMs = 250;
  const measured: Row[] = [];
  for (const peer of peers) {
    const s = await startSession(peer, n, { reuse: smoke });
    try {
      await s.connect(n, false);
      const { pool, publisher } = s;
      let expected = pool.deliveries + 4 * n;
      await publisher.burst(4); // warm-up
      await pool.waitFor(() => pool.deliveries >= expected, 60_000, 'warm-up deliveries');
      pool.latency.reset();
      const events = Math.round((seconds * 1000) / intervalMs);
      expected = pool.deliveries + events * n;
      const started = performance.now();
      const sends: Promise<void>[] = [];
      for (let i = 0; i < events; i++) {
        const due = started + i * intervalMs;
        await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
        sends.push(settledLater(publisher.one()));
      }
      await Promise.all(sends);
      await pool.waitFor(() => pool.deliveries >= expected, 60_000, 'deliveries');
      measured.push({ peer, sockets: n, events, 'p50 ms': round(pool.latency.percentile(50), 1), 'p99 ms': round(pool.latency.percentile(99), 1), 'max ms': round(pool.latency.max, 1) });
    } finally {
      await s.close();
    }
  }
  const raw = measured.find((r) => r.peer === 'raw');
  return {
    scenario: 'latency',
    settings: { sockets: n, eventsPerSecond: 1000 / intervalMs, seconds, database: process.env.BENCH_DATABASE_URL ? 'postgresql' : 'pglite' },
    rows: measured.map((r) => ({ ...r, 'p99 vs raw': ratio(r['p99 ms'] as number, raw?.['p99 ms'] as number) })),
    chart: [
      { column: 'p50 ms', unit: 'lower is better' },
      { column: 'p99 ms', unit: 'lower is better' },
    ],
  };
};

await runIfMain(import.meta.url, latency);

/**
 * Fan-out and burst latency: N subscribers of one channel (1,000 then 10,000), bursts of 100 events of ~200 B
 * published by 8 concurrent HTTP publishers; each burst is awaited until every socket has every event. Reports
 * deliveries/s (all deliveries over the time from the first publish to the last delivery) and per-delivery latency
 * (publisher's send → the frame read by the client) p50/p99.
 *
 * Run alone: node --import tsx bench/scenarios/fanout.ts [--smoke] [--peers=fonana-realtime,raw-coalesced]
 */
import type { Row } from '../lib/report.ts';
import { PEERS } from '../lib/servers.ts';
import { ratio, round, runIfMain, startSession, type Scenario } from '../lib/scenario.ts';

export const fanout: Scenario = async ({ smoke, peers = PEERS }) => {
  const sizes = smoke ? [20] : (process.env.BENCH_FANOUT_SIZES ?? '1000,10000').split(',').map(Number);
  const bursts = smoke ? 2 : 5;
  const burstSize = smoke ? 10 : 100;
  const rows: Row[] = [];
  for (const n of sizes) {
    const measured: Row[] = [];
    for (const peer of peers) {
      const s = await startSession(peer, n, { reuse: smoke });
      try {
        await s.connect(n, false);
        const { pool, publisher } = s;
        // warm-up burst, not measured
        let expected = pool.deliveries + burstSize * n;
        await publisher.burst(burstSize);
        await pool.waitFor(() => pool.deliveries >= expected, 120_000, 'warm-up deliveries');
        pool.latency.reset();
        const before = pool.deliveries;
        const started = performance.timeOrigin + performance.now();
        for (let b = 0; b < bursts; b++) {
          expected = pool.deliveries + burstSize * n;
          await publisher.burst(burstSize);
          await pool.waitFor(() => pool.deliveries >= expected, 120_000, `burst ${b} deliveries`);
        }
        const seconds = (pool.lastDeliveryAt - started) / 1000;
        measured.push({
          peer,
          sockets: n,
          'deliveries/s': Math.round((pool.deliveries - before) / seconds),
          'p50 ms': round(pool.latency.percentile(50), 1),
          'p99 ms': round(pool.latency.percentile(99), 1),
        });
        // Each peer's row as soon as it is measured (stderr), so a run cut by a time bound still leaves its figures.
        console.error(JSON.stringify({ scenario: 'fanout', at: new Date().toISOString(), ...measured.at(-1) }));
      } finally {
        await s.close();
      }
    }
    const rc = measured.find((r) => r.peer === 'raw-coalesced');
    const sio = measured.find((r) => r.peer === 'socketio');
    for (const r of measured) {
      rows.push({
        ...r,
        'vs raw-coalesced (rate)': ratio(r['deliveries/s'] as number, rc?.['deliveries/s'] as number),
        'vs Socket.IO (rate)': ratio(r['deliveries/s'] as number, sio?.['deliveries/s'] as number),
        'p99 vs raw-coalesced': ratio(r['p99 ms'] as number, rc?.['p99 ms'] as number),
      });
    }
  }
  return {
    scenario: 'fanout',
    settings: { sizes, bursts, burstSize, publishers: 8, eventBytes: '~200', database: process.env.BENCH_DATABASE_URL ? 'postgresql' : 'pglite' },
    rows: rows.map((r) => ({ ...r, peer: `${r.peer} @${r.sockets}` })),
    chart: [
      { column: 'deliveries/s', unit: 'frames/s, higher is better' },
      { column: 'p99 ms', unit: 'burst latency, lower is better' },
    ],
  };
};

await runIfMain(import.meta.url, fanout);

/**
 * Connect storm: N clients (10,000) connect, authenticate and subscribe; the time from the first connect until the
 * last is subscribed. Handshakes are paced (at most PACE in flight) so the listen backlog is not what is measured.
 * fonana-realtime and Socket.IO check a token (fonana also that the user exists, and the channel); ws and raw have
 * no auth (the yardstick is plain ws without auth).
 *
 * Run alone: node --import tsx bench/scenarios/connect-storm.ts [--smoke] [--peers=…]
 */
import type { Row } from '../lib/report.ts';
import { PEERS } from '../lib/servers.ts';
import { PACE, ratio, round, runIfMain, startSession, type Scenario } from '../lib/scenario.ts';

export const connectStorm: Scenario = async ({ smoke, peers = PEERS }) => {
  const n = smoke ? 30 : Number(process.env.BENCH_STORM_SOCKETS ?? 10000);
  const measured: Row[] = [];
  for (const peer of peers) {
    const s = await startSession(peer, n, { timeoutMs: 180_000, reuse: smoke });
    try {
      const started = performance.now();
      await s.connect(n, false);
      const ms = performance.now() - started;
      measured.push({ peer, clients: n, 'seconds': round(ms / 1000, 2), 'connects/s': Math.round(n / (ms / 1000)), refused: s.pool.failedHandshakes });
    } finally {
      await s.close();
    }
  }
  const ws = measured.find((r) => r.peer === 'ws');
  return {
    scenario: 'connect-storm',
    settings: { clients: n, handshakesInFlight: PACE, database: process.env.BENCH_DATABASE_URL ? 'postgresql' : 'pglite' },
    rows: measured.map((r) => ({ ...r, 'time vs ws (no auth)': ratio(r.seconds as number, ws?.seconds as number) })),
    chart: [{ column: 'seconds', unit: 'to all subscribed, lower is better' }],
  };
};

await runIfMain(import.meta.url, connectStorm);

/**
 * Idle memory: N clients (10,000), each authenticated (where the peer has auth) with 2 subscriptions (the shared
 * fan-out channel and the user's own notifications), then idle. The server's RSS and heap+external after a full GC,
 * before and after, per connection.
 *
 * Run alone: node --import tsx bench/scenarios/idle-memory.ts [--smoke] [--peers=…]
 */
import type { Row } from '../lib/report.ts';
import { PEERS } from '../lib/servers.ts';
import { ratio, round, runIfMain, startSession, type Scenario } from '../lib/scenario.ts';

export const idleMemory: Scenario = async ({ smoke, peers = PEERS }) => {
  const n = smoke ? 30 : Number(process.env.BENCH_IDLE_SOCKETS ?? 10000);
  const measured: Row[] = [];
  for (const peer of peers) {
    const s = await startSession(peer, n, { timeoutMs: 180_000, reuse: smoke });
    try {
      const before = await s.server.mem();
      await s.connect(n, true);
      await new Promise((r) => setTimeout(r, smoke ? 100 : 2000));
      const after = await s.server.mem();
      measured.push({
        peer,
        clients: n,
        'RSS KB/conn': round((after.rss - before.rss) / 1024 / n),
        'heap KB/conn': round((after.heapUsed - before.heapUsed) / 1024 / n),
        'heap+external KB/conn': round((after.heapUsed + after.external - before.heapUsed - before.external) / 1024 / n),
      });
    } finally {
      await s.close();
    }
  }
  const ws = measured.find((r) => r.peer === 'ws');
  return {
    scenario: 'idle-memory',
    settings: { clients: n, subscriptionsPerClient: 2, database: process.env.BENCH_DATABASE_URL ? 'postgresql' : 'pglite' },
    rows: measured.map((r) => ({
      ...r,
      'RSS vs ws': ratio(r['RSS KB/conn'] as number, ws?.['RSS KB/conn'] as number),
      'heap vs ws': ratio(r['heap KB/conn'] as number, ws?.['heap KB/conn'] as number),
    })),
    chart: [
      { column: 'RSS KB/conn', unit: 'lower is better' },
      { column: 'heap KB/conn', unit: 'lower is better' },
    ],
    notes: process.env.BENCH_DATABASE_URL
      ? []
      : ['fonana-realtime ran on the in-process PGlite, whose WebAssembly memory (RSS, external) moves by hundreds of MB on its own: only its heap column means anything; run with BENCH_DATABASE_URL for RSS.'],
  };
};

await runIfMain(import.meta.url, idleMemory);

/**
 * The server side of the bench's IPC: announce the port, answer memory questions (after a full GC, which needs
 * `--expose-gc`) and, where the server has them, counter questions; exit when told or when the parent goes away.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeHeapSnapshot } from 'node:v8';

/** How long after the GC the RSS is read: V8 unmaps the pages a GC freed on a background thread, not at once. */
const SETTLE_MS = 500;
let snapshots = 0;

export async function memory(): Promise<{ rss: number; heapUsed: number; external: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  await sleep(SETTLE_MS);
  // BENCH_HEAP_SNAPSHOT=<dir>: a heap snapshot at every measurement, to see what a connection's heap is made of.
  const dir = process.env.BENCH_HEAP_SNAPSHOT;
  if (dir) writeHeapSnapshot(join(dir, `${process.argv.at(-1)}-${process.pid}-${++snapshots}.heapsnapshot`));
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

export function serveIpc(port: number, extra: Record<string, unknown> = {}, counters?: () => Promise<unknown>): void {
  process.on('message', (msg: { cmd: string; id: number }) => {
    if (msg.cmd === 'mem') void memory().then((mem) => process.send!({ id: msg.id, mem }));
    if (msg.cmd === 'counters') void counters?.().then((c) => process.send!({ id: msg.id, counters: c }));
    if (msg.cmd === 'exit') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: port, ...extra });
}

/**
 * Recovery storm (issue 7): N clients of one gateway, all subscribed to one channel, drop at once; while they are away
 * E events (50) are published on the channel; then all N reconnect at once and resubscribe with `since` (the
 * position of their `subscribed`). A client has *recovered* when it got `subscribed` with `recovered: true` and then
 * exactly the E missed events, in order. Measured from the first reconnect: time until every client has recovered
 * (and p50/p99 of the per-client times), and the gateway's database queries for history during the storm
 * (`realtime_history_queries_total`, read over IPC before and after) per recovery.
 *
 * Modes, each on a gateway of its own (fresh database, same settings otherwise), in the same run:
 * - `cache`: the history cache on (HISTORY_CACHE_EVENTS default, 300 per channel): recoveries answered from memory;
 * - `no cache` (peer): HISTORY_CACHE_EVENTS=0, so every recovery reads the outbox in PostgreSQL;
 * - `no since` (peer): the same reconnect and subscribe without `since` (no replay): the floor of a reconnect.
 * One more client (the anchor) stays subscribed throughout, as the channel's other readers would, so the node keeps
 * serving the channel while the N are away (with Redis, a node with no subscriber of a channel is not routed its
 * events).
 *
 * Handshakes are paced (PACE in flight, like the suite) so the listen backlog is not what is measured; the server
 * runs pinned to core 0, this process (the load generator) to core 1. The bench gateway lifts the per-address limits
 * (bench/servers/gateway.ts): every client comes from one of four loopback addresses.
 *
 * Run: BENCH_DATABASE_URL=postgres://… node --import tsx bench/recovery-storm.ts [clients=5000] [events=50] [rounds=1]
 * (without BENCH_DATABASE_URL the gateway uses an in-memory PGlite). Prints a table and writes
 * bench/results/recovery-storm.json and .svg.
 */
import { ClientPool, type ClientSpec } from './lib/loadgen.ts';
import { Publisher } from './lib/publisher.ts';
import { report, type Row } from './lib/report.ts';
import { FAN_CHANNEL, benchUser, freshDatabase, mintBenchToken, pinLoadGenerator, startServer, type Counters, type RunningServer } from './lib/servers.ts';

const CLIENTS = Number(process.argv[2] ?? 5000);
const EVENTS = Number(process.argv[3] ?? 50);
const ROUNDS = Number(process.argv[4] ?? 1);
const PACE = 200;
const TIMEOUT_MS = 180_000;
type Mode = 'cache' | 'no cache' | 'no since';
const MODES: Mode[] = ['cache', 'no cache', 'no since'];

interface Position {
  offset: number;
  epoch: string;
}

/** One client's view of its storm: its subscribed answer, the events after it, when it was done. */
class Tracker {
  subscribed: { offset: number; epoch: string; recovered?: boolean } | null = null;
  events = 0;
  lastOffset = -1;
  outOfOrder = 0;
  doneAt = NaN;
  key = '';

  constructor(
    readonly expected: number,
    readonly onDone: () => void,
    /** The position sent as `since`: a recovered replay starts right after it. */
    readonly since?: Position,
  ) {}

  text(raw: string): void {
    const frame = JSON.parse(raw) as { type: string; channel?: string; offset?: number; data?: { channelKey?: string; offset: number; epoch: string; recovered?: boolean } };
    if (frame.type === 'subscribed' && frame.data) {
      this.subscribed = frame.data;
      this.key = frame.data.channelKey ?? '';
      // `subscribed.offset` is where live delivery continues; a recovered replay comes first, from `since` on.
      this.lastOffset = frame.data.recovered === true && this.since ? this.since.offset : frame.data.offset;
      this.#check();
      return;
    }
    if (!this.subscribed || frame.channel !== this.key || typeof frame.offset !== 'number') return;
    if (frame.offset !== this.lastOffset + 1) this.outOfOrder++;
    this.lastOffset = frame.offset;
    this.events++;
    this.#check();
  }

  #check(): void {
    if (!Number.isNaN(this.doneAt) || !this.subscribed) return;
    if (this.expected > 0 && this.subscribed.recovered !== true) return;
    if (this.events < this.expected) return;
    this.doneAt = performance.now();
    this.onDone();
  }
}

function spec(port: number, i: number, tracker: Tracker, since?: Position): ClientSpec {
  const subscribe = { type: 'subscribe', channel: FAN_CHANNEL, ...(since ? { since } : {}) };
  return {
    port,
    path: `/ws?token=${mintBenchToken(benchUser(i))}`,
    setup: [{ afterAnswers: 0, frames: [JSON.stringify(subscribe)] }],
    readyAfter: 2, // connected, subscribed
    onText: (t) => tracker.text(t),
  };
}

const diff = (after: Counters, before: Counters, name: string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after[name] ?? {})) out[k] = v - (before[name]?.[k] ?? 0);
  return out;
};
const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((sorted.length * p) / 100) - 1))]!;

async function storm(mode: Mode, n = CLIENTS): Promise<Row> {
  const db = await freshDatabase();
  const env: Record<string, string> = { BENCH_USERS: String(n + 1) };
  if (db.url) env.DATABASE_URL = db.url;
  if (mode === 'no cache') env.BENCH_HISTORY_CACHE_EVENTS = '0';
  let server: RunningServer | null = null;
  const pools: ClientPool[] = [];
  const publisher: { p: Publisher | null } = { p: null };
  try {
    server = await startServer('fonana-realtime', { env });
    const port = server.port;
    publisher.p = new Publisher('fonana-realtime', port, 8);
    // The anchor (client N) stays subscribed throughout.
    const anchor = new Tracker(0, () => {});
    const anchorPool = new ClientPool({ pace: 1, timeoutMs: TIMEOUT_MS });
    pools.push(anchorPool);
    await anchorPool.open([spec(port, n, anchor)]);
    // Every client connected and subscribed; their positions noted.
    const first = Array.from({ length: n }, () => new Tracker(0, () => {}));
    const before = new ClientPool({ pace: PACE, timeoutMs: TIMEOUT_MS });
    pools.push(before);
    await before.open(first.map((t, i) => spec(port, i, t)));
    const positions = first.map((t) => ({ offset: t.subscribed!.offset, epoch: t.subscribed!.epoch }));
    // All drop at once; E events are published while they are away and reach the node (the anchor has them).
    before.destroy();
    await new Promise((r) => setTimeout(r, 1000));
    const anchorTarget = anchorPool.deliveries + EVENTS;
    await publisher.p.burst(EVENTS);
    await anchorPool.waitFor(() => anchorPool.deliveries >= anchorTarget, TIMEOUT_MS, 'the anchor to get the events');
    await new Promise((r) => setTimeout(r, 500));
    // The storm.
    const expected = mode === 'no since' ? 0 : EVENTS;
    let done = 0;
    let allDone!: () => void;
    const finished = new Promise<void>((r) => (allDone = r));
    const since = (i: number) => (mode === 'no since' ? undefined : positions[i]);
    const trackers = Array.from({ length: n }, (_, i) => new Tracker(expected, () => ++done === n && allDone(), since(i)));
    const countersBefore = await server.counters();
    const pool = new ClientPool({ pace: PACE, timeoutMs: TIMEOUT_MS });
    pools.push(pool);
    const started = performance.now();
    await pool.open(trackers.map((t, i) => spec(port, i, t, since(i))));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      allDone();
    }, TIMEOUT_MS);
    await finished;
    clearTimeout(timer);
    const countersAfter = await server.counters();
    const times = trackers.filter((t) => !Number.isNaN(t.doneAt)).map((t) => t.doneAt - started).sort((a, b) => a - b);
    const queries = diff(countersAfter, countersBefore, 'historyQueries');
    const reads = diff(countersAfter, countersBefore, 'historyReads');
    const recoveries = diff(countersAfter, countersBefore, 'recoveries');
    const row: Row = {
      mode: mode === 'cache' ? 'cache on (300/channel)' : mode === 'no cache' ? 'no cache (peer)' : 'no since (peer: plain reconnect)',
      clients: n,
      'events each': expected,
      recovered: times.length,
      'not recovered': trackers.filter((t) => t.subscribed?.recovered === false).length,
      'out of order': trackers.reduce((a, t) => a + t.outOfOrder, 0),
      'all recovered s': timedOut ? null : Number((times.at(-1)! / 1000).toFixed(2)),
      'p50 s': Number((pct(times, 50) / 1000).toFixed(2)),
      'p99 s': Number((pct(times, 99) / 1000).toFixed(2)),
      'history queries (head/events)': `${queries.head ?? 0}/${queries.events ?? 0}${queries.heads ? ` +${queries.heads} heads` : ''}`,
      // The event-range reads a recovery made in PostgreSQL. The `head` queries are the connect's, in every mode: each
      // new socket's user channel (`user_<id>`) has its position loaded for `connected.data.offset`.
      'db reads per recovery': mode === 'no since' ? null : Number(((queries.events ?? 0) / n).toFixed(3)),
      'queries per client': Number((sum(queries) / n).toFixed(3)),
      'reads cache/db': `${reads.cache ?? 0}/${reads.database ?? 0}`,
      'recoveries (server)': `${recoveries.recovered ?? 0} ok, ${recoveries.not_recovered ?? 0} not`,
    };
    console.error(JSON.stringify({ ...row, queries }));
    return row;
  } finally {
    publisher.p?.close();
    for (const p of pools) p.destroy();
    await server?.stop();
    await db.drop();
  }
}

const placement = pinLoadGenerator();
// A warm-up storm (not reported), so the load generator's JIT is as warm for the first mode as for the others.
await storm('cache', Math.min(CLIENTS, 500));
const rows: Row[] = [];
for (let r = 0; r < ROUNDS; r++) for (const mode of MODES) rows.push(await storm(mode));
const base = (mode: string) => rows.find((r) => String(r.mode).startsWith(mode))?.['all recovered s'] as number | undefined;
const cacheS = base('cache on');
report({
  scenario: 'recovery-storm',
  settings: {
    clients: CLIENTS,
    eventsMissed: EVENTS,
    rounds: ROUNDS,
    channel: FAN_CHANNEL,
    handshakesInFlight: PACE,
    database: process.env.BENCH_DATABASE_URL ? 'postgresql' : 'pglite',
    broker: 'memory',
    placement,
  },
  rows: rows.map((r) => ({ ...r, 'time vs cache': cacheS && typeof r['all recovered s'] === 'number' ? `${((r['all recovered s'] as number) / cacheS).toFixed(2)}×` : '—' })),
  chart: [
    { column: 'all recovered s', unit: 'from the first reconnect, lower is better' },
    { column: 'db reads per recovery', unit: 'event-range queries to PostgreSQL, lower is better' },
    { column: 'queries per client', unit: 'all history queries (head + events), lower is better' },
  ],
});
process.exit(0);

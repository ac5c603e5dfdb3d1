/** What every scenario shares: its options, starting a peer with N ready clients, ratios, running alone. */
import { pathToFileURL } from 'node:url';
import { ClientPool } from './loadgen.ts';
import { Publisher } from './publisher.ts';
import { report, type ScenarioResult } from './report.ts';
import { clientSpec, freshDatabase, pinLoadGenerator, startServer, type Peer, type RunningServer } from './servers.ts';

export interface ScenarioOptions {
  /** Tiny sizes, a few seconds: the smoke run of `npm test`. */
  readonly smoke: boolean;
  /** Peers to run (default: all the scenario knows). */
  readonly peers?: readonly Peer[];
}

export type Scenario = (options: ScenarioOptions) => Promise<ScenarioResult>;

export interface Session {
  readonly server: RunningServer;
  readonly pool: ClientPool;
  readonly publisher: Publisher;
  /** Connects `n` more clients (numbered from `first`) and waits until all are ready. */
  connect(n: number, own: boolean, first?: number): Promise<void>;
  close(): Promise<void>;
}

export const PACE = 200;

interface Started {
  server: RunningServer;
  drop: () => Promise<void>;
  /** Number of the next client (each client is its own user). */
  nextClient: number;
}

/** Servers kept between the scenarios of a smoke run (starting a gateway dominates a tiny run). */
const kept = new Map<Peer, Started>();
const SMOKE_USERS = 2000;

async function start(peer: Peer, users: number): Promise<Started> {
  const db = peer === 'fonana-realtime' ? await freshDatabase() : { url: undefined, drop: async () => {} };
  const env: Record<string, string> = { BENCH_USERS: String(users) };
  if (db.url) env.DATABASE_URL = db.url;
  return { server: await startServer(peer, { env }), drop: db.drop, nextClient: 0 };
}

/**
 * Starts a peer (fonana-realtime on a fresh database with `users` users) without clients yet. With `reuse` (smoke
 * runs) the peer's server of an earlier scenario is used again, and stays up until `stopKeptServers`.
 */
export async function startSession(peer: Peer, users: number, options: { timeoutMs?: number; reuse?: boolean } = {}): Promise<Session> {
  let started = options.reuse ? kept.get(peer) : undefined;
  if (!started) {
    started = await start(peer, options.reuse ? Math.max(users, SMOKE_USERS) : users);
    if (options.reuse) kept.set(peer, started);
  }
  const s = started;
  if (s.nextClient + users > (options.reuse ? SMOKE_USERS : users)) throw new Error(`${peer}: more clients than bench users`);
  const { server } = s;
  const pool = new ClientPool({ pace: PACE, timeoutMs: options.timeoutMs ?? 120_000 });
  const publisher = new Publisher(peer, server.port);
  return {
    server,
    pool,
    publisher,
    connect: (n, own) => {
      const first = s.nextClient;
      s.nextClient += n;
      return pool.open(Array.from({ length: n }, (_, i) => clientSpec(peer, server.port, first + i, own)));
    },
    async close() {
      publisher.close();
      pool.destroy();
      if (options.reuse) return;
      await server.stop();
      await s.drop();
    },
  };
}

export async function stopKeptServers(): Promise<void> {
  for (const s of kept.values()) {
    await s.server.stop();
    await s.drop();
  }
  kept.clear();
}

export const ratio = (a: number, b: number | undefined): string => (b && Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '—');

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

/** Runs the scenario when its file is the one started (`node --import tsx bench/scenarios/x.ts [--smoke]`). */
export async function runIfMain(url: string, scenario: Scenario): Promise<void> {
  if (url !== pathToFileURL(process.argv[1] ?? '').href) return;
  const placement = pinLoadGenerator();
  const smoke = process.argv.includes('--smoke');
  const peersArg = process.argv.find((a) => a.startsWith('--peers='));
  const peers = peersArg ? (peersArg.slice(8).split(',') as Peer[]) : undefined;
  const result = await scenario({ smoke, ...(peers ? { peers } : {}) });
  await stopKeptServers();
  result.settings.placement ??= placement;
  report(result);
  process.exit(0);
}

/**
 * The benchmark suite: every scenario in turn, each printing its table and writing bench/results/<scenario>.json
 * and .svg. `--smoke`: tiny sizes (the smoke run of `npm test`). Scenarios that need PostgreSQL and Redis
 * (two nodes, all cores) run when BENCH_DATABASE_URL and REDIS_URL are set.
 *
 *   npm run bench                     # or: node --import tsx bench/run.ts [--smoke] [--only=fanout,latency] [--peers=ws,raw]
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 npm run bench
 */
import { report, type ScenarioResult } from './lib/report.ts';
import { pinLoadGenerator, type Peer } from './lib/servers.ts';
import { stopKeptServers, type ScenarioOptions } from './lib/scenario.ts';
import { idleMemory } from './scenarios/idle-memory.ts';
import { fanout } from './scenarios/fanout.ts';
import { latency } from './scenarios/latency.ts';
import { connectStorm } from './scenarios/connect-storm.ts';
import { purchaseUnlock } from './scenarios/purchase-unlock.ts';
import { cores } from './scenarios/cores.ts';

const withServices = Boolean(process.env.BENCH_DATABASE_URL && process.env.REDIS_URL);
type Entry = [string, (o: ScenarioOptions) => Promise<ScenarioResult>];
const withServicesOnly: Entry[] = [
  ['purchase-unlock-two-nodes', (o) => purchaseUnlock(o, true)],
  ['cores', cores],
];
const scenarios: Entry[] = [
  ['idle-memory', idleMemory],
  ['fanout', fanout],
  ['latency', latency],
  ['connect-storm', connectStorm],
  ['purchase-unlock', (o) => purchaseUnlock(o)],
  ...(withServices ? withServicesOnly : []),
];

const placement = pinLoadGenerator();
const smoke = process.argv.includes('--smoke');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const peers = process.argv.find((a) => a.startsWith('--peers='))?.slice(8).split(',') as Peer[] | undefined;
console.log(`# fonana-realtime benchmark suite${smoke ? ' (smoke)' : ''}: ${placement}`);
for (const [name, scenario] of scenarios) {
  if (only && !only.includes(name)) continue;
  const started = performance.now();
  const result = await scenario({ smoke, ...(peers ? { peers } : {}) });
  result.settings.placement ??= placement;
  const files = report(result);
  console.log(`\n(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s; ${files.json}, ${files.svg})`);
}
await stopKeptServers();
if (!withServices) console.log('\n(two-node and all-cores scenarios skipped: set BENCH_DATABASE_URL and REDIS_URL)');
process.exit(0);

/**
 * The functions with the most self time in a V8 CPU profile (`node --cpu-prof`; the bench servers write one each
 * with BENCH_CPU_PROF=<dir>). Run: node --import tsx bench/profile-top.ts <file.cpuprofile> [top=15]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-top.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const where = url ? `${url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/packages\//, 'packages/')}:${lineNumber + 1}` : '';
  const key = `${functionName || '(anonymous)'} ${where}`.trim();
  self.set(key, (self.get(key) ?? 0) + dt);
  total += dt;
});
const idle = self.get('(idle)') ?? 0;
console.log(`| self % of busy time | function |\n|---:|---|`);
for (const [key, us] of [...self].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 15))) {
  console.log(`| ${((us / (total - idle)) * 100).toFixed(1)}% | \`${key}\` |`);
}
console.log(`\nbusy ${((total - idle) / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled`);

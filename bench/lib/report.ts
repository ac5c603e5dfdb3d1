/**
 * Output of a scenario: a Markdown table on stdout, and `bench/results/<scenario>.json` plus an SVG bar chart
 * `bench/results/<scenario>.svg` (one panel per charted column), both linked from bench/RESULTS.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Row = Record<string, string | number | null>;

export interface ScenarioResult {
  readonly scenario: string;
  /** What was run, e.g. sizes and the database; printed above the table. */
  readonly settings: Record<string, unknown>;
  readonly rows: Row[];
  /** Columns drawn in the chart (numbers), each its own panel; the first column labels the bars. */
  readonly chart: { column: string; unit: string }[];
  /** Lines printed under the table (ratios, caveats). */
  readonly notes?: string[];
}

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

export function machine(): Record<string, unknown> {
  const cpu = cpus();
  return { node: process.version, cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', date: new Date().toISOString() };
}

function cell(v: string | number | null): string {
  if (v === null) return '—';
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function table(rows: Row[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = Object.keys(rows[0]!);
  const lines = [`| ${cols.join(' | ')} |`, `|${cols.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${cols.map((c) => cell(r[c] ?? null)).join(' | ')} |`);
  return lines.join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Horizontal bars, one panel per charted column; a bar per row, labelled by the row's first column. */
export function svgChart(result: ScenarioResult): string {
  const label = Object.keys(result.rows[0] ?? {})[0] ?? '';
  const barH = 18;
  const labelW = 300;
  const plotW = 420;
  const width = labelW + plotW + 110;
  let y = 34;
  const parts: string[] = [`<text x="10" y="20" font-weight="bold">${esc(result.scenario)}</text>`];
  for (const { column, unit } of result.chart) {
    const values = result.rows.map((r) => (typeof r[column] === 'number' ? (r[column] as number) : 0));
    const max = Math.max(...values, 1e-9);
    parts.push(`<text x="10" y="${y + 12}" font-weight="bold">${esc(column)} (${esc(unit)})</text>`);
    y += 20;
    result.rows.forEach((r, i) => {
      const w = Math.max(1, (values[i]! / max) * plotW);
      parts.push(
        `<text x="10" y="${y + 13}">${esc(String(r[label]))}</text>`,
        `<rect x="${labelW}" y="${y + 2}" width="${w.toFixed(1)}" height="${barH - 4}" fill="${i % 2 ? '#7a9cc6' : '#3b6ea5'}"/>`,
        `<text x="${labelW + w + 6}" y="${y + 13}">${esc(cell(values[i]!))}</text>`,
      );
      y += barH;
    });
    y += 12;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}

/** Prints the table and writes the JSON and SVG; returns the paths written. */
export function report(result: ScenarioResult, outDir = process.env.BENCH_RESULTS_DIR ?? RESULTS_DIR): { json: string; svg: string } {
  const settings = { ...result.settings, machine: machine() };
  console.log(`\n## ${result.scenario}\n`);
  console.log(`settings: ${JSON.stringify(result.settings)}\n`);
  console.log(table(result.rows));
  for (const n of result.notes ?? []) console.log(`\n${n}`);
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, `${result.scenario}.json`);
  const svg = join(outDir, `${result.scenario}.svg`);
  writeFileSync(json, `${JSON.stringify({ ...result, settings }, null, 2)}\n`);
  writeFileSync(svg, svgChart(result));
  return { json, svg };
}

/**
 * The demo page (apps/demo) for `fonana-realtime demo`: built with Vite when its build is missing or older than its
 * sources (the SDK's included), so a plain `npm ci && npm start` serves it. Returns the built folder, or null with the
 * reason when it cannot be built (e.g. an install without dev dependencies): the gateway then serves without it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const DEMO_APP_DIR = join(REPO, 'apps/demo');
const SOURCES = [join(DEMO_APP_DIR, 'index.html'), join(DEMO_APP_DIR, 'src'), join(DEMO_APP_DIR, 'vite.config.ts'), join(REPO, 'packages/client/src'), join(REPO, 'packages/protocol/src')];

export async function ensureDemoPage(): Promise<{ pageDir: string | null; built: boolean; problem?: string }> {
  const pageDir = join(DEMO_APP_DIR, 'dist');
  if (!existsSync(join(DEMO_APP_DIR, 'index.html'))) return { pageDir: null, built: false, problem: `no demo app in ${DEMO_APP_DIR}` };
  const builtAt = await mtime(join(pageDir, 'index.html'));
  if (builtAt !== null && builtAt >= (await newest(SOURCES))) return { pageDir, built: false };
  let vite: string;
  try {
    vite = join(dirname(createRequire(join(DEMO_APP_DIR, 'package.json')).resolve('vite/package.json')), 'bin/vite.js');
  } catch {
    return { pageDir: builtAt === null ? null : pageDir, built: false, problem: 'vite is not installed (npm ci installs it)' };
  }
  const output: Buffer[] = [];
  const code = await new Promise<number>((done) => {
    const child = spawn(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: DEMO_APP_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => output.push(b));
    child.stderr.on('data', (b: Buffer) => output.push(b));
    child.on('error', () => done(1));
    child.on('close', (c) => done(c ?? 1));
  });
  if (code !== 0) return { pageDir: null, built: false, problem: `vite build failed:\n${Buffer.concat(output).toString().slice(-2000)}` };
  return { pageDir, built: true };
}

async function mtime(path: string): Promise<number | null> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return null;
  }
}

/** The newest modification time under the given files and folders. */
async function newest(paths: readonly string[]): Promise<number> {
  let max = 0;
  for (const path of paths) {
    const info = await stat(path).catch(() => null);
    if (!info) continue;
    if (!info.isDirectory()) {
      max = Math.max(max, info.mtimeMs);
      continue;
    }
    const entries = await readdir(path, { withFileTypes: true });
    max = Math.max(max, await newest(entries.filter((e) => e.name !== 'node_modules').map((e) => join(path, e.name))));
  }
  return max;
}

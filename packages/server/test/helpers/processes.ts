/**
 * Real processes a deployment test runs itself: gateway processes (`fonana-realtime serve`), and helpers to find free
 * ports and read a node's metrics. Each process is stopped after the test, by its own pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

export const BIN = new URL('../../bin/fonana-realtime.js', import.meta.url).pathname;

type After = { after(fn: () => unknown): void };

/** A port that was free a moment ago (bound to 127.0.0.1:0, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves with the first line of `child`'s stream matching `match`; rejects if the process exits first or after `ms`. */
export function waitForLine(
  child: ChildProcess,
  stream: 'stdout' | 'stderr',
  match: (line: string) => boolean,
  seen: string[] = [],
  ms = 30_000,
): Promise<string> {
  return within(
    new Promise((resolve, reject) => {
      const lines = createInterface({ input: child[stream]! });
      lines.on('line', (line) => {
        seen.push(line);
        if (match(line)) resolve(line);
      });
      child.once('exit', (code) => reject(new Error(`process exited (${code}) before the expected line:\n${seen.slice(-20).join('\n')}`)));
    }),
    ms,
    () => `no expected line within ${ms} ms:\n${seen.slice(-20).join('\n')}`,
  );
}

/** `promise`, or a rejection naming `what` once `ms` have passed. */
export function within<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(typeof what === 'string' ? `${what} (waited ${ms} ms)` : what())), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly metricsPort: number;
  /** The exit code, once the process has exited. */
  readonly exited: Promise<number | null>;
  /** stdout lines so far (pino JSON). */
  readonly lines: string[];
}

/** `fonana-realtime serve` as a child process on a free port; resolves once it logged "gateway listening". */
export async function startGatewayProcess(t: After, env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => stop(child));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: string[] = [];
  const line = await waitForLine(child, 'stdout', (l) => l.includes('"gateway listening"'), lines);
  const { port, metricsPort } = JSON.parse(line) as { port: number; metricsPort: number };
  return { child, port, metricsPort, exited, lines };
}

/** SIGKILL for a process still running at teardown, then wait (at most 10 s) for it to be gone. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, 'exit');
  child.kill('SIGKILL');
  await within(gone, 10_000, `process ${child.pid} gone after SIGKILL`);
}

/** The value of an unlabelled gauge or counter on a node's /metrics. */
export async function metric(metricsPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no metric ${name}`);
  return Number(line.slice(name.length + 1));
}

/**
 * `serve` with WORKERS > 1: a node:cluster primary and N workers on one port.
 *
 * - The primary forks the workers, each a full GatewayNode (database pool, outbox relay, hub, WebSocket gateway, HTTP
 *   API) listening on the same PORT; node:cluster hands the accepted connections to them in turn.
 * - Broker: with REDIS_URL each worker is a node on Redis, as separate processes are; without it the workers' bus
 *   (broker/worker-bus.ts) runs through the primary.
 * - Metrics: only the primary listens on METRICS_PORT; its `/metrics` is the workers' registries aggregated by
 *   prom-client (counters and gauges summed, `realtime_outbox_pending` the maximum).
 * - SIGTERM/SIGINT to the primary: every worker drains (1012 spread over DRAIN_MS) and exits; then the primary exits 0.
 *   A worker that dies otherwise is logged and replaced.
 * - The embedded database (PGlite) is one process's: WORKERS > 1 needs DATABASE_URL.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import { relayWorkerBus } from '../broker/worker-bus.ts';
import type { Config } from '../config/config.ts';
import type { Logger } from '../logger.ts';
import { startMetricsServer } from '../metrics-server.ts';
import { GatewayNode } from '../node.ts';
import { listenError, StartupError } from '../startup-error.ts';

/** IPC messages between the primary and its workers (besides the bus's and prom-client's). */
type Control =
  | { readonly fonanaWorker: 'listening'; readonly port: number }
  | { readonly fonanaWorker: 'failed'; readonly line: string }
  | { readonly fonanaWorker: 'shutdown' };

function control(message: unknown): Control | null {
  return typeof message === 'object' && message !== null && 'fonanaWorker' in message ? (message as Control) : null;
}

/** A worker's start failure, already one line (`SETTING: cause`): the primary prints it as its own. */
export class WorkerStartupError extends Error {}

/** Whether this process is a worker forked by {@link servePrimary}. */
export function isServeWorker(config: Config): boolean {
  return config.workers > 1 && cluster.isWorker;
}

/** Before a replacement for a worker that died is started: a worker failing at once cannot spin the CPU. */
const RESPAWN_DELAY_MS = 1000;

/** Longer than a worker's drain: a worker still running after DRAIN_MS plus this is killed. */
const STOP_GRACE_MS = 15_000;

/**
 * The primary: checks the setup, listens on METRICS_PORT, forks the workers and waits until each listens (a worker
 * that fails to start stops them all, with its one line), then serves until SIGTERM/SIGINT. Returns the exit code.
 */
export async function servePrimary(config: Config, logger: Logger): Promise<number> {
  if (!config.databaseUrl) {
    throw new StartupError(
      'WORKERS',
      `${config.workers} workers need a PostgreSQL database (DATABASE_URL): the embedded one in DATA_DIR is for one process; set WORKERS=1 or DATABASE_URL`,
    );
  }
  const aggregator = new AggregatorRegistry();
  const metrics = await startMetricsServer(
    { metrics: () => aggregator.clusterMetrics(), contentType: aggregator.contentType },
    config.metricsHost,
    config.metricsPort,
  ).catch((err: unknown) => {
    throw listenError('METRICS_PORT', config.metricsHost, config.metricsPort, err);
  });
  if (!config.redisUrl) relayWorkerBus(cluster);

  let stopping = false;
  const fork = (): Worker => cluster.fork();
  const exited = new Map<number, Promise<void>>();
  cluster.on('fork', (worker) => {
    exited.set(worker.id, new Promise((resolve) => worker.once('exit', () => resolve())));
  });

  // Start: every worker listening, or the first failure.
  let onMessage: ((worker: Worker, message: unknown) => void) | undefined;
  let onExit: ((worker: Worker, code: number | null, signal: string | null) => void) | undefined;
  let port = 0;
  try {
    port = await new Promise<number>((resolve, reject) => {
      let listening = 0;
      let failure: string | null = null;
      onMessage = (_worker, message) => {
        const c = control(message);
        if (c?.fonanaWorker === 'listening') {
          if (++listening === config.workers) resolve(c.port);
        } else if (c?.fonanaWorker === 'failed') failure ??= c.line;
      };
      onExit = (worker, code, signal) => {
        reject(new WorkerStartupError(failure ?? `serve failed: worker ${worker.id} exited during start (${signal ?? code})`));
      };
      cluster.on('message', onMessage);
      cluster.on('exit', onExit);
      for (let i = 0; i < config.workers; i++) fork();
    });
  } catch (err) {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
    await Promise.all(exited.values());
    await closeServer(metrics.server);
    throw err;
  } finally {
    cluster.off('message', onMessage!);
    cluster.off('exit', onExit!);
  }

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    logger.error({ worker: worker.id, pid: worker.process.pid, code, signal }, 'worker died; starting a replacement');
    setTimeout(() => {
      if (!stopping) fork();
    }, RESPAWN_DELAY_MS).unref();
  });
  logger.info(
    { port, host: config.host, metricsPort: metrics.port, workers: config.workers, broker: config.redisUrl ? 'redis' : 'workers' },
    'gateway listening',
  );
  process.send?.('ready');

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  stopping = true;
  // A second signal while draining is ignored: the workers are stopping already, and may have got it too (a terminal).
  process.on('SIGTERM', () => {});
  process.on('SIGINT', () => {});
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  logger.info({ signal, workers: workers.length }, 'shutdown requested; draining every worker');
  for (const worker of workers) if (worker.isConnected()) worker.send({ fonanaWorker: 'shutdown' } satisfies Control);
  const kill = setTimeout(() => {
    for (const worker of workers) {
      if (!worker.isDead()) {
        logger.warn({ worker: worker.id }, 'worker did not stop in time; killing it');
        worker.process.kill('SIGKILL');
      }
    }
  }, config.timings.drainMs + STOP_GRACE_MS);
  await Promise.all(exited.values());
  clearTimeout(kill);
  await closeServer(metrics.server);
  logger.info('stopped');
  return 0;
}

/**
 * A worker: one GatewayNode on the shared port; tells the primary it listens; drains on the primary's word, on
 * SIGTERM/SIGINT, or when the primary is gone. Returns the exit code.
 */
export async function serveWorker(config: Config, logger: Logger, secret: string): Promise<number> {
  const node = await GatewayNode.start({ config, logger, secret, worker: true });
  process.send!({ fonanaWorker: 'listening', port: node.port } satisfies Control);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (reason: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ reason }, 'shutdown requested');
      node.shutdown().then(resolve, (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('message', (message) => {
      if (control(message)?.fonanaWorker === 'shutdown') stop('primary');
    });
    process.on('disconnect', () => stop('primary gone'));
  });
  return 0;
}

/** Tells the primary why this worker could not start (it prints the line once for all workers). */
export function reportWorkerFailure(line: string): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!({ fonanaWorker: 'failed', line } satisfies Control, undefined, {}, () => resolve());
  });
}

/** Lets go of the channel to the primary, so a worker that is done exits with its code. */
export function leaveCluster(): void {
  if (cluster.isWorker && process.connected) process.disconnect();
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * `fonana-realtime <command>`: serve, demo, migrate, seed, token <userId>.
 * Exit codes: 0 done, 1 failed, 2 bad configuration or usage (one line per problem on stderr).
 */
import { ConfigError, loadConfig, type Config } from '../config/config.ts';
import { loadOrCreateDevSecret } from '../config/dev-secret.ts';
import type { Database } from '../db/client.ts';
import { migrate } from '../db/migrate.ts';
import { seed } from '../db/seed.ts';
import { mintToken } from '../auth/tokens.ts';
import { userExists } from '../db/users.ts';
import { pino } from 'pino';
import { createLogger, errorSummary, type Logger } from '../logger.ts';
import { StartupError } from '../startup-error.ts';
import { GatewayNode, openConfiguredDatabase } from '../node.ts';
import { withDemoKeys } from '../config/demo-keys.ts';
import type { DemoOptions } from '../http/routes/demo.ts';
import { ensureDemoPage } from './demo-page.ts';
import cluster from 'node:cluster';
import { isServeWorker, leaveCluster, reportWorkerFailure, servePrimary, serveWorker, WorkerStartupError } from './workers.ts';

const USAGE = `usage: fonana-realtime <command>

commands:
  serve            run the gateway (WebSocket + HTTP API) with the configuration from the environment
  demo             migrate, seed the demo world, print demo tokens, then serve (what \`npm start\` runs)
  migrate          create the gateway's tables (and the platform tables on an empty database)
  seed             write the demo world and print a token per demo user
  token <userId>   print a token for an existing user, signed with NEXTAUTH_SECRET [--ttl <seconds>, default 3600]
`;

export async function main(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.problems) process.stderr.write(`config error: ${line}\n`);
      return 2;
    }
    throw err;
  }
  // A server logs to stdout; one-shot commands keep stdout for their output (a token, the demo table).
  const serving = command === 'serve' || command === 'demo';
  const logger = createLogger(config.logLevel, serving ? undefined : pino.destination(2));
  try {
    switch (command) {
      case 'serve':
        return await serve(config, logger, false);
      case 'demo':
        return await serve(config, logger, true);
      case 'migrate':
        return await withDatabase(config, logger, async (db) => {
          const result = await migrate(db);
          process.stdout.write(`migrated (${result.mode} mode): ${result.applied.length ? result.applied.join(', ') : 'nothing to apply'}\n`);
        });
      case 'seed':
        return await withDatabase(config, logger, async (db) => {
          await migrate(db);
          await seedAndPrint(db, config, await resolveSecret(config, logger));
        });
      case 'token':
        return await token(config, logger, rest);
      default:
        process.stderr.write(`unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    // One line naming the setting (a StartupError) or the cause; no stack, no driver objects.
    const line =
      err instanceof StartupError || err instanceof WorkerStartupError ? err.message : `${command} failed: ${errorSummary(err).message}`;
    if (serving) logger.error({ error: errorSummary(err) }, `${command} failed`);
    if (command === 'serve' && isServeWorker(config)) {
      // The primary prints it, once for all its workers.
      await reportWorkerFailure(line);
      leaveCluster();
    } else process.stderr.write(`fonana-realtime: ${line}\n`);
    return 1;
  }
}

async function resolveSecret(config: Config, logger: Logger): Promise<string> {
  if (config.nextAuthSecret) return config.nextAuthSecret;
  const dev = await loadOrCreateDevSecret(config.dataDir);
  logger.warn(
    { path: dev.path, created: dev.created },
    'NEXTAUTH_SECRET is not set: using a random development secret kept in the data folder (tokens minted by the platform will not verify; set NEXTAUTH_SECRET to share its key)',
  );
  return dev.secret;
}

async function withDatabase(config: Config, logger: Logger, work: (db: Database) => Promise<void>): Promise<number> {
  const db = await openConfiguredDatabase(config, logger);
  try {
    await work(db);
    return 0;
  } finally {
    await db.close();
  }
}

async function seedAndPrint(db: Database, config: Config, secret: string): Promise<void> {
  const world = await seed(db);
  const ttl = Math.min(24 * 3600, config.maxTokenTtlSeconds ?? Infinity);
  const lines = [`demo world (tokens valid ${ttl % 3600 === 0 ? `${ttl / 3600} h` : `${ttl} s`}):`];
  for (const [label, userId] of Object.entries(world.users)) {
    const jwt = await mintToken(userId, { secret, issuer: config.jwtIssuer, audience: config.jwtAudience, expiresInSeconds: ttl });
    lines.push(`  ${label.padEnd(16)} ${userId.padEnd(20)} ${jwt}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function token(config: Config, logger: Logger, args: readonly string[]): Promise<number> {
  const [userId, flag, value] = args;
  if (!userId || (flag !== undefined && flag !== '--ttl')) {
    process.stderr.write('usage: fonana-realtime token <userId> [--ttl <seconds>]\n');
    return 2;
  }
  const ttl = value === undefined ? 3600 : Number(value);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 30 * 24 * 3600) {
    process.stderr.write('token: --ttl must be a whole number of seconds from 1 to 2592000\n');
    return 2;
  }
  if (config.maxTokenTtlSeconds !== null && ttl > config.maxTokenTtlSeconds) {
    process.stderr.write(`token: --ttl ${ttl} is longer than MAX_TOKEN_TTL (${config.maxTokenTtlSeconds} s)\n`);
    return 2;
  }
  // A token for a user the gateway does not know could never connect (4001 unknown user): refuse to print one.
  let known = false;
  await withDatabase(config, logger, async (db) => {
    known = await userExists(db.orm, userId);
  });
  if (!known) {
    process.stderr.write(`token: there is no user "${userId.slice(0, 128)}" in the database\n`);
    return 2;
  }
  const secret = await resolveSecret(config, logger);
  const jwt = await mintToken(userId, { secret, issuer: config.jwtIssuer, audience: config.jwtAudience, expiresInSeconds: ttl });
  process.stdout.write(`${jwt}\n`);
  return 0;
}

async function serve(config: Config, logger: Logger, demo: boolean): Promise<number> {
  // WORKERS > 1 (not in the demo, which runs on the embedded database): a cluster primary and its workers.
  if (!demo && config.workers > 1) {
    if (!isServeWorker(config)) {
      // The development secret is created here, once, before the workers read it.
      if (config.databaseUrl) await resolveSecret(config, logger);
      return servePrimary(config, logger);
    }
    const workerLogger = logger.child({ worker: cluster.worker!.id, pid: process.pid });
    const secret = await resolveSecret(config, workerLogger);
    keepServingOnStrayErrors(workerLogger);
    const code = await serveWorker(config, workerLogger, secret);
    leaveCluster();
    return code;
  }
  let demoOptions: DemoOptions | undefined;
  // The demo page's address comes first, on its own plain line, above everything else.
  if (demo && config.port !== 0) process.stdout.write(`${demoPageUrl(config, config.port)}\n`);
  const secret = await resolveSecret(config, logger);
  if (demo) {
    const keys = await withDemoKeys(config);
    config = keys.config;
    const page = await ensureDemoPage();
    if (page.problem) process.stdout.write(`demo page not served: ${page.problem}\n`);
    demoOptions = { pageDir: page.pageDir };
    await withDatabase(config, logger, async (db) => {
      await migrate(db);
      await seedAndPrint(db, config, secret);
    });
    const where = [
      keys.files.apiKey ? `REALTIME_API_KEY in ${keys.files.apiKey}` : 'REALTIME_API_KEY from the environment',
      keys.files.webhookSecret ? `PAYMENT_WEBHOOK_SECRET in ${keys.files.webhookSecret}` : 'PAYMENT_WEBHOOK_SECRET from the environment',
    ];
    process.stdout.write(`demo keys (the demo's payment route uses them): ${where.join(', ')}\n`);
  }
  const node = await GatewayNode.start({ config, logger, secret, ...(demoOptions ? { demo: demoOptions } : {}) });
  if (demo && config.port === 0) process.stdout.write(`${demoPageUrl(config, node.port)}\n`);
  keepServingOnStrayErrors(logger);
  // Under a process manager with an IPC channel (PM2 `wait_ready`): listening now, the old instance may stop.
  process.send?.('ready');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutdown requested');
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      node.shutdown().then(resolve, (err) => {
        logger.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  // Stopped cleanly. The IPC channel of a process manager (PM2's cluster mode) would keep the event loop alive until
  // the manager's kill timeout ends in SIGKILL: let go of it so the process exits now, with 0.
  if (process.connected) process.disconnect();
  return 0;
}

/** The demo page's address as a browser on this machine reaches it. */
function demoPageUrl(config: Config, port: number): string {
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `demo page: http://${host}:${port}/`;
}

/**
 * Last resort of a serving process: an error that escaped every handler is logged and the process keeps serving its
 * other sockets, instead of dropping every user for one bug. Each path that handles client input catches on its own;
 * this only keeps a missed path from becoming a crash.
 */
function keepServingOnStrayErrors(logger: Logger): void {
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception; still serving'));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection; still serving'));
}

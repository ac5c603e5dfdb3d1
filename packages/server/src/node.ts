/**
 * The wiring of one gateway process: database, broker, hub, WebSocket gateway, outbox relay, HTTP API and
 * metrics listener, started in dependency order and stopped in reverse.
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.ts';
import { openDatabase, type Database } from './db/client.ts';
import { lockDataDir } from './db/data-dir-lock.ts';
import { migrate } from './db/migrate.ts';
import { unpublishedCount } from './db/outbox.ts';
import { createBroker } from './broker/index.ts';
import type { Broker, BrokerHandler, BrokerMessage, SubscribeOptions } from './broker/broker.ts';
import { EventTypes } from '@fonana-realtime/protocol';
import { holdFlushUntil } from './gateway/frame-writer.ts';
import { Hub } from './gateway/hub.ts';
import { EventCache } from './history/event-cache.ts';
import { History } from './history/history.ts';
import { WebSocketGateway } from './gateway/websocket-server.ts';
import { buildApp } from './http/app.ts';
import type { DemoOptions } from './http/routes/demo.ts';
import { errorSummary, type Logger } from './logger.ts';
import { AggregatorRegistry } from 'prom-client';
import { Metrics } from './metrics.ts';
import { startMetricsServer } from './metrics-server.ts';
import { listenError, StartupError } from './startup-error.ts';
import { CommittedPublisher } from './outbox/committed-publisher.ts';
import { OutboxRelay } from './outbox/relay.ts';
import { ExpirySweep } from './outbox/expiry-sweep.ts';
import { withinDeadline } from './deadline.ts';

export interface StartOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** The resolved NEXTAUTH_SECRET (config value or the development secret). */
  readonly secret: string;
  /** An already open database (tests); otherwise one is opened from the config and closed on shutdown. */
  readonly db?: Database;
  /** An already made broker (tests sharing one MemoryBroker between nodes); otherwise from the config. */
  readonly broker?: Broker;
  /** Whether to serve the metrics listener. Default true. */
  readonly metrics?: boolean;
  /** Demo mode (`fonana-realtime demo`): serve the demo page and its routes. Never in `serve`. */
  readonly demo?: DemoOptions;
  /**
   * One worker of `serve` with WORKERS > 1 (a node:cluster worker): no metrics listener of its own (the primary serves
   * the workers' metrics summed, on METRICS_PORT), its registry answers the primary's requests, and without REDIS_URL
   * its broker is the in-machine bus through the primary.
   */
  readonly worker?: boolean;
}

export class GatewayNode {
  readonly config: Config;
  readonly db: Database;
  readonly broker: Broker;
  readonly hub: Hub;
  readonly gateway: WebSocketGateway;
  readonly relay: OutboxRelay;
  readonly committedPublisher: CommittedPublisher;
  readonly expirySweep: ExpirySweep;
  readonly app: FastifyInstance;
  readonly metrics: Metrics;
  readonly #logger: Logger;
  readonly #ownsDb: boolean;
  readonly #ownsBroker: boolean;
  #metricsServer: Server | null = null;
  #draining = false;
  #port = 0;
  #metricsPort = 0;

  private constructor(parts: {
    config: Config;
    db: Database;
    broker: Broker;
    hub: Hub;
    gateway: WebSocketGateway;
    relay: OutboxRelay;
    committedPublisher: CommittedPublisher;
    expirySweep: ExpirySweep;
    app: FastifyInstance;
    metrics: Metrics;
    logger: Logger;
    ownsDb: boolean;
    ownsBroker: boolean;
  }) {
    this.config = parts.config;
    this.db = parts.db;
    this.broker = parts.broker;
    this.hub = parts.hub;
    this.gateway = parts.gateway;
    this.relay = parts.relay;
    this.committedPublisher = parts.committedPublisher;
    this.expirySweep = parts.expirySweep;
    this.app = parts.app;
    this.metrics = parts.metrics;
    this.#logger = parts.logger;
    this.#ownsDb = parts.ownsDb;
    this.#ownsBroker = parts.ownsBroker;
  }

  /** The HTTP/WebSocket port actually bound (useful with PORT=0). */
  get port(): number {
    return this.#port;
  }

  get metricsPort(): number {
    return this.#metricsPort;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Opens the database, starts every part and listens (the metrics listener first). A failure on the way stops what
   * was started and throws; a listener that cannot bind and a database that cannot be reached throw a StartupError
   * naming the setting.
   */
  static async start(options: StartOptions): Promise<GatewayNode> {
    const started: (() => Promise<unknown>)[] = [];
    try {
      return await GatewayNode.#start(options, started);
    } catch (err) {
      for (const stop of started.reverse()) await stop().catch(() => {});
      throw err;
    }
  }

  static async #start(options: StartOptions, started: (() => Promise<unknown>)[]): Promise<GatewayNode> {
    const { config, logger } = options;
    const metrics = new Metrics({ defaultMetrics: options.metrics !== false });
    // The metrics listener first, before the database is opened: a busy METRICS_PORT stops the start at once, and the
    // public port never takes traffic without it.
    let metricsServer: { server: Server; port: number } | null = null;
    if (options.worker) {
      // Answers the primary's AggregatorRegistry (its IPC listener is added by the constructor).
      new AggregatorRegistry();
      AggregatorRegistry.setRegistries([metrics.registry]);
    } else if (options.metrics !== false) {
      metricsServer = await startMetricsServer(metrics.registry, config.metricsHost, config.metricsPort).catch((err: unknown) => {
        throw listenError('METRICS_PORT', config.metricsHost, config.metricsPort, err);
      });
      const { server } = metricsServer;
      started.push(() => new Promise((resolve) => server.close(resolve)));
    }
    const db = options.db ?? (await openConfiguredDatabase(config, logger));
    if (!options.db) started.push(() => db.close());
    metrics.countPendingOutbox = () => unpublishedCount(db.orm);
    if (config.migrateOnStart) {
      const result = await migrate(db);
      logger.info({ mode: result.mode, applied: result.applied }, 'database migrated');
    }
    const broker =
      options.broker ??
      createBroker({
        redisUrl: config.redisUrl ?? undefined,
        workerBus: options.worker === true,
        prefix: config.redisPrefix,
        onError: (err) => logger.warn({ err }, 'broker problem (connection, subscription or handler)'),
        onRecovered: (message) => logger.info(message),
      });
    if (!options.broker) started.push(() => broker.close());
    let gateway: WebSocketGateway | null = null;
    const { limits } = config;
    const history = new History({
      db,
      metrics,
      cache: new EventCache({ eventsPerChannel: limits.historyCacheEvents, maxBytes: limits.historyCacheBytes }),
      maxRecoveryEvents: limits.recoveryMaxEvents,
    });
    const hub = new Hub({
      metrics,
      routing: broker,
      history,
      logger,
      onEntitlementChange: (userId) => void gateway?.recheckPostAccess(userId),
      onInternalEvent: (message) => gateway?.handleInternalEvent(message),
      onUserHead: (userId, state) => gateway?.userHeadRead(userId, state),
    });
    const tokens = {
      secret: options.secret,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      maxTtlSeconds: config.maxTokenTtlSeconds,
    };
    const wsGateway = new WebSocketGateway({ config, db, hub, metrics, logger, tokens });
    gateway = wsGateway;
    started.push(async () => wsGateway.close());
    const onResubscribed = () => {
      logger.info('broker subscription restored; comparing served channels with history');
      void hub.catchUp();
    };
    await subscribeOrCarryOn(
      broker,
      (message) => {
        metrics.brokerMessagesReceived.inc();
        deliverTo(hub, gateway!, message);
      },
      { onResubscribed },
      logger,
    );
    const onPublished = (count: number, lagMs: number) => {
      metrics.outboxPublished.inc(count);
      metrics.outboxLag.observe(lagMs / 1000);
    };
    const relay = new OutboxRelay({
      db,
      broker,
      logger,
      pollMs: config.timings.outboxPollMs,
      retentionMs: config.timings.outboxRetentionMs,
      partitions: config.outbox.partitions,
      onPublished,
    });
    const committedPublisher = new CommittedPublisher({
      db,
      broker,
      logger,
      onPublished,
      deliverLocally: (messages) => {
        for (const message of messages) deliverTo(hub, gateway!, message);
      },
    });
    let node: GatewayNode | null = null;
    const selfUrl = () => `http://${loopbackFor(config.host)}:${node!.port}`;
    const app = await buildApp({
      config,
      db,
      logger,
      tokens,
      readiness: () => node!.readiness(),
      onCommitted: committedPublisher.publish,
      // Published events are delivered to this node's sockets on commit: their flush may wait for a group in flight.
      onCommitting: holdFlushUntil,
      ...(options.demo ? { demo: { ...options.demo, selfUrl } } : {}),
    });
    started.push(() => app.close());
    const expirySweep = new ExpirySweep({ db, logger, intervalMs: config.timings.expirySweepMs });
    node = new GatewayNode({
      config,
      db,
      broker,
      hub,
      gateway,
      relay,
      committedPublisher,
      expirySweep,
      app,
      metrics,
      logger,
      ownsDb: !options.db,
      ownsBroker: !options.broker,
    });
    gateway.attach(app.server);
    if (metricsServer) {
      node.#metricsServer = metricsServer.server;
      node.#metricsPort = metricsServer.port;
    }
    await relay.start();
    started.push(() => relay.stop());
    expirySweep.start();
    started.push(() => expirySweep.stop());
    await app.listen({ port: config.port, host: config.host, backlog: config.limits.listenBacklog }).catch((err: unknown) => {
      throw listenError('PORT', config.host, config.port, err);
    });
    node.#port = (app.server.address() as AddressInfo).port;
    logger.info(
      { port: node.#port, host: config.host, metricsPort: node.#metricsPort, database: db.kind, broker: config.redisUrl ? 'redis' : options.worker ? 'workers' : 'memory' },
      'gateway listening',
    );
    return node;
  }

  /** What `/readyz` reports; answers within READINESS_CHECK_MS even when the database does not. */
  async readiness(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const database = await withinDeadline(this.db.orm.execute(sql`select 1`), READINESS_CHECK_MS);
    const checks = { draining: this.#draining, database, broker: this.broker.isHealthy() };
    return { ready: !this.#draining && database && checks.broker, checks };
  }

  /**
   * Closes the HTTP server; connections still open after HTTP_CLOSE_GRACE_MS (a request whose headers never finish,
   * whose timeout stops with the server) are cut, so a shutdown cannot wait on a client.
   */
  async #closeHttp(): Promise<void> {
    const cut = setTimeout(() => this.app.server.closeAllConnections(), HTTP_CLOSE_GRACE_MS);
    try {
      await this.app.close();
    } finally {
      clearTimeout(cut);
    }
  }

  /**
   * Graceful stop: readiness turns 503 and new upgrades are refused at once; open sockets are closed with 1012
   * spread over `drainMs`; then the relay, HTTP server, broker and database are stopped.
   */
  async shutdown(drainMs = this.config.timings.drainMs): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    this.#logger.info({ sockets: this.gateway.socketCount, drainMs }, 'draining');
    await this.gateway.drain(drainMs);
    this.gateway.close();
    // Each part is stopped even when an earlier one fails (e.g. the database went away), so exit never hangs.
    const steps: [string, () => Promise<unknown>][] = [
      ['expiry sweep', () => this.expirySweep.stop()],
      ['outbox relay', () => this.relay.stop()],
      ['http server', () => this.#closeHttp()],
      ['committed-event publisher', () => this.committedPublisher.close()],
      ['metrics server', () => new Promise<void>((resolve) => (this.#metricsServer ? this.#metricsServer.close(() => resolve()) : resolve()))],
      ['broker', () => (this.#ownsBroker ? this.broker.close() : Promise.resolve())],
      ['database', () => (this.#ownsDb ? this.db.close() : Promise.resolve())],
    ];
    for (const [part, stop] of steps) {
      try {
        await stop();
      } catch (err) {
        this.#logger.warn({ err, part }, 'could not stop cleanly');
      }
    }
    this.#logger.info('stopped');
  }
}

/** Why the configured database could not be opened, naming the setting: DATABASE_URL, or DATA_DIR for the embedded one. */
function databaseStartupError(config: Config, err: unknown): StartupError {
  const { message, code } = errorSummary(err);
  const cause = code && !message.includes(code) ? `${message} (${code})` : message;
  return config.databaseUrl
    ? new StartupError('DATABASE_URL', `cannot connect to the database: ${cause}`)
    : new StartupError('DATA_DIR', `cannot open the embedded database: ${cause}`);
}

/**
 * The database of the configuration: PostgreSQL at DATABASE_URL, else the embedded PGlite in DATA_DIR/pglite, which
 * this process then holds the lock of (DATA_DIR/pglite.lock) until the database is closed.
 */
export async function openConfiguredDatabase(config: Config, logger: Logger): Promise<Database> {
  const onError = (err: Error) => logger.warn({ error: errorSummary(err) }, 'database connection error');
  if (config.databaseUrl) {
    return openDatabase({ url: config.databaseUrl, timeouts: config.database, onError }).catch((err: unknown) => {
      throw databaseStartupError(config, err);
    });
  }
  const release = await lockDataDir(join(config.dataDir, 'pglite.lock'));
  let db: Database;
  try {
    db = await openDatabase({ dataDir: join(config.dataDir, 'pglite'), onError });
  } catch (err) {
    await release();
    throw databaseStartupError(config, err);
  }
  return {
    ...db,
    async close() {
      await db.close();
      await release();
    },
  };
}

/** An address to reach this process's own listener: loopback when it listens on every interface. */
function loopbackFor(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

const HTTP_CLOSE_GRACE_MS = 2000;

/** Longest a readiness check waits for the database: a load balancer's probe must get an answer, not a hang. */
const READINESS_CHECK_MS = 1500;

const USER_PREFIX = 'user_';

/** A broker message to the hub; a `user-deleted` event on a user's channel first drops that user from the caches. */
function deliverTo(hub: Hub, gateway: WebSocketGateway, message: BrokerMessage): number {
  if (message.type === EventTypes.USER_DELETED && message.channel.startsWith(USER_PREFIX)) {
    gateway.invalidateUser(message.channel.slice(USER_PREFIX.length));
  }
  return hub.deliver(message);
}

const BROKER_WAIT_MS = 5000;

/**
 * Subscribes to the broker, waiting at most BROKER_WAIT_MS: a Redis that is down at boot must not hang the start.
 * The subscription completes in the background once Redis is reachable; until then /readyz says the broker is down.
 */
async function subscribeOrCarryOn(
  broker: Broker,
  handler: BrokerHandler,
  options: SubscribeOptions,
  logger: Logger,
): Promise<void> {
  const subscribed = broker.subscribe(handler, options);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), BROKER_WAIT_MS);
  });
  const outcome = await Promise.race([subscribed.then(() => 'done' as const), late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    logger.warn('broker not reachable yet: serving, not ready until the subscription is made');
    subscribed.catch((err: unknown) => logger.error({ err }, 'broker subscription failed'));
  }
}

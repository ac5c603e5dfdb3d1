/**
 * One database handle over either driver: node-postgres (DATABASE_URL) or the embedded PGlite (a data folder,
 * or memory). Callers use `orm` (drizzle) for queries and transactions; `listen` hides the drivers' different
 * LISTEN/NOTIFY APIs.
 */
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePg, NodePgTransaction, type NodePgSession } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { sql, type Logger, type SQL } from 'drizzle-orm';
import pg from 'pg';
import { withinDeadline } from '../deadline.ts';
import * as schema from './schema.ts';

export type Orm = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction handle, as passed to `orm.transaction(async (tx) => …)`. Repositories accept either. */
export type Tx = Parameters<Parameters<Orm['transaction']>[0]>[0];
export type Queryable = Orm | Tx;

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  readonly orm: Orm;
  /**
   * Calls `onNotify(payload)` for every NOTIFY on `channel` until the returned function is called.
   * With PostgreSQL a dedicated connection is used and re-established after errors.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Runs a parameterless SQL script of any number of statements on `on` (this database's `orm`, or a transaction
   * it opened), with the simple-query protocol. `orm.execute` cannot do this on PGlite, where it always sends one
   * prepared statement ("cannot insert multiple commands into a prepared statement").
   */
  execScript(on: Queryable, script: string): Promise<void>;
  /** Closes the pool or the embedded database; a second call does nothing. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL connection string; when absent the embedded database is used. */
  url?: string | undefined;
  /** PGlite data folder; when absent (and no url) an in-memory database. */
  dataDir?: string | undefined;
  /**
   * An already-created PGlite to use instead of opening one from `dataDir` (tests start from a dumped template with
   * `new PGlite({ loadDataDir })`). The Database takes it over: `close()` closes it.
   */
  pglite?: PGlite | undefined;
  /** Pool size for PostgreSQL. Default 10. */
  poolSize?: number;
  /**
   * PostgreSQL timeouts. The statement timeout is set twice: on the server (`statement_timeout`, so it stops the work)
   * and in the client (`query_timeout`, so a server that does not answer at all cannot hold a caller). PGlite runs in
   * this process and cannot hang on a network; it has none.
   */
  timeouts?: {
    readonly connectTimeoutMs: number;
    readonly statementTimeoutMs: number;
    readonly idleInTransactionTimeoutMs: number;
  };
  /** Called with driver errors that happen outside a query (a dropped idle connection). */
  onError?: (err: Error) => void;
  /**
   * drizzle's query logger: `logQuery` is called with every statement sent through `orm` or its transactions (with
   * PostgreSQL including `begin` and `commit`; PGlite opens and ends its transactions itself, unlogged).
   */
  logger?: Logger;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url) return openPostgres(options.url, options);
  return openPglite(options.pglite ?? (options.dataDir ? new PGlite(options.dataDir) : new PGlite()), options.logger);
}

async function openPglite(client: PGlite, logger: Logger | undefined): Promise<Database> {
  await client.waitReady;
  const orm = drizzlePglite(client, { schema, logger }) as unknown as Orm;
  return {
    kind: 'pglite',
    orm,
    async listen(channel, onNotify) {
      const unlisten = await client.listen(channel, onNotify);
      return async () => unlisten();
    },
    async execScript(on, script) {
      await pgliteHandle(on, orm, client).exec(script);
    },
    async close() {
      if (!client.closed) await client.close();
    },
  };
}

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<Database> {
  const onError = options.onError ?? (() => {});
  const t = options.timeouts;
  const clientConfig: pg.ClientConfig = {
    connectionString: url,
    keepAlive: true,
    ...(t
      ? {
          connectionTimeoutMillis: t.connectTimeoutMs,
          statement_timeout: t.statementTimeoutMs,
          query_timeout: t.statementTimeoutMs,
          idle_in_transaction_session_timeout: t.idleInTransactionTimeoutMs,
        }
      : {}),
  };
  const pool = new pg.Pool({ ...clientConfig, max: options.poolSize ?? 10 });
  pool.on('error', onError);
  // The pool listens for errors of idle clients only. A checked-out client whose session the server ends (e.g. the
  // idle-in-transaction timeout of a frozen relay) would emit 'error' with no listener and crash the process; the
  // query waiting on it fails on its own and the pool discards the client at release.
  pool.on('connect', (client) => client.on('error', onError));
  const connected = new Set<pg.Client>();
  pool.on('connect', (client) => connected.add(client));
  pool.on('remove', (client) => connected.delete(client));
  // Fail at start-up with the driver's message rather than on the first request.
  try {
    const probe = await pool.connect();
    probe.release();
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  const logger = options.logger;
  const orm = drizzlePg(pool, { schema, logger }) as unknown as Orm;
  orm.transaction = (run, config) => transactionOnOwnClient(pool, run, config, logger);
  lockedTransactions.set(orm, (key, run) => lockedTransactionOnOwnClient(pool, key, run, logger));
  const listeners = new Set<PgListener>();
  return {
    kind: 'postgres',
    orm,
    async listen(channel, onNotify) {
      const listener = new PgListener(clientConfig, channel, onNotify, onError, connected);
      listeners.add(listener);
      await listener.start();
      return async () => {
        listeners.delete(listener);
        await listener.stop();
      };
    },
    async execScript(on, script) {
      // Without parameters node-postgres sends a simple query, which may hold several statements.
      await on.execute(sql.raw(script));
    },
    async close() {
      if (pool.ended) return;
      const ended = Promise.all([...[...listeners].map((l) => l.stop()), pool.end()]);
      // A clean end waits for the server to answer; a hung server never does, so its sockets are cut instead.
      if (!(await withinDeadline(ended, CLOSE_GRACE_MS))) {
        for (const client of connected) client.connection.stream.destroy();
        // A client its caller never released keeps pool.end() waiting for good; its socket is cut all the same.
        await withinDeadline(ended, CLOSE_GRACE_MS);
      }
    },
  };
}

/**
 * `orm.transaction` on PostgreSQL, replacing drizzle's pool transaction, which keeps the client checked out for good
 * when `begin` fails and returns it to the pool when `rollback` fails: with a server that stopped answering (client-side
 * query timeouts), the first leaks the pool away and the second hands the next caller a session still inside the old
 * transaction. Here a transaction that failed in any way discards its client (the pool opens a fresh one).
 */
async function transactionOnOwnClient<T>(
  pool: pg.Pool,
  run: (tx: Tx) => Promise<T>,
  config: Parameters<Orm['transaction']>[1],
  logger: Logger | undefined,
): Promise<T> {
  return onOwnClient(pool, (client) => ormOnClient(client, logger).transaction(run, config));
}

/** Runs `use` on a pooled client; a client whose use failed in any way is discarded, not returned to the pool. */
async function onOwnClient<T>(pool: pg.Pool, use: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    return await use(client);
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    client.release(failure);
  }
}

/**
 * Runs `run` in a transaction that holds the transaction-scoped advisory lock of `key`
 * (`pg_advisory_xact_lock(hashtextextended(key, 0))`) before any statement of `run` is sent, so every snapshot `run`
 * takes is taken after the lock was granted. On PostgreSQL the lock goes in BEGIN's round trip: one simple query
 * `begin; select pg_advisory_xact_lock(…)` (the key as an escaped literal: a simple query has no parameters), not a
 * statement of its own after `begin`. On PGlite (in-process, no round trips) it is the transaction's first statement.
 */
export function transactionWithAdvisoryLock<T>(orm: Orm, key: string, run: (tx: Tx) => Promise<T>): Promise<T> {
  const locked = lockedTransactions.get(orm);
  if (locked) return locked(key, run);
  return orm.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`);
    return run(tx);
  });
}

type LockedTransaction = <T>(key: string, run: (tx: Tx) => Promise<T>) => Promise<T>;
/** transactionWithAdvisoryLock of the PostgreSQL databases' orms. */
const lockedTransactions = new WeakMap<Orm, LockedTransaction>();

/**
 * transactionWithAdvisoryLock on PostgreSQL: drizzle's transaction (what `transactionOnOwnClient` runs) with the lock
 * in the `begin` query. The same failure handling: the transaction is rolled back and the client discarded.
 */
function lockedTransactionOnOwnClient<T>(pool: pg.Pool, key: string, run: (tx: Tx) => Promise<T>, logger: Logger | undefined): Promise<T> {
  return onOwnClient(pool, async (client) => {
    // The transaction drizzle's NodePgSession.transaction would make on this client, without its `begin`.
    const session = (ormOnClient(client, logger) as unknown as { session: NodePgSession<typeof schema, never> }).session;
    const internals = session as unknown as { dialect: never; schema: never };
    const tx = new NodePgTransaction(internals.dialect, session, internals.schema) as unknown as Tx;
    const begin = `begin; select pg_advisory_xact_lock(hashtextextended(${client.escapeLiteral(key)}, 0))`;
    logger?.logQuery(begin, []);
    await client.query(begin);
    let result: T;
    try {
      result = await run(tx);
    } catch (err) {
      logger?.logQuery('rollback', []);
      await client.query('rollback').catch(() => {});
      throw err;
    }
    logger?.logQuery('commit', []);
    await client.query('commit');
    return result;
  });
}

/** One drizzle instance per pooled connection, made on its first transaction (making one per transaction costs). */
const ormsOnClients = new WeakMap<pg.PoolClient, Orm>();

function ormOnClient(client: pg.PoolClient, logger: Logger | undefined): Orm {
  let orm = ormsOnClients.get(client);
  if (!orm) {
    orm = drizzlePg(client, { schema, logger }) as unknown as Orm;
    ormsOnClients.set(client, orm);
  }
  return orm;
}

/**
 * The PGlite handle behind `on`: the client itself, or the PGlite transaction drizzle opened for `orm.transaction`
 * (PGlite serializes transactions, so `client.exec` inside one would wait forever). drizzle keeps that handle in
 * the transaction's session and has no public accessor for it; migrate's tests cover this on every upgrade.
 */
function pgliteHandle(on: Queryable, orm: Orm, client: PGlite): Pick<PGlite, 'exec'> {
  if (on === orm) return client;
  const handle = (on as unknown as { session?: { client?: Partial<Pick<PGlite, 'exec'>> } }).session?.client;
  if (typeof handle?.exec !== 'function') throw new Error('execScript: not a transaction of this PGlite database');
  return handle as Pick<PGlite, 'exec'>;
}

/** How long closing the database waits for the server to end its sessions before cutting the sockets. */
const CLOSE_GRACE_MS = 2000;

/** A LISTEN connection that reconnects (after 1 s) when the server drops it. */
class PgListener {
  #client: pg.Client | null = null;
  #stopped = false;
  #retry: NodeJS.Timeout | null = null;

  constructor(
    readonly clientConfig: pg.ClientConfig,
    readonly channel: string,
    readonly onNotify: (payload: string) => void,
    readonly onError: (err: Error) => void,
    /** Every open client of the database, so that a close can cut the sockets of a hung server. */
    readonly connected: Set<pg.Client>,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client(this.clientConfig);
    this.connected.add(client);
    client.once('end', () => this.connected.delete(client));
    client.on('notification', (msg) => {
      if (msg.channel === this.channel) this.onNotify(msg.payload ?? '');
    });
    client.on('error', (err) => {
      this.onError(err);
      this.#scheduleRestart();
    });
    await client.connect();
    await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    this.#client = client;
  }

  #scheduleRestart(): void {
    if (this.#stopped || this.#retry) return;
    this.#client?.end().catch(() => {});
    this.#client = null;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.start().catch((err: Error) => {
        this.onError(err);
        this.#scheduleRestart();
      });
    }, 1000);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    await this.#client?.end().catch(() => {});
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Runs a raw query and returns its rows, whatever the driver. */
export async function queryRows<T>(db: Queryable, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

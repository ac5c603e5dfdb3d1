/**
 * A fresh, private database per test: a new database on the PostgreSQL server of `DATABASE_URL` when it is set,
 * otherwise an in-memory PGlite. Both are dropped after the test.
 */
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Logger } from 'drizzle-orm';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';

export interface TestDatabase {
  db: Database;
  /** The new database's connection string with PostgreSQL (for a child process); undefined with PGlite. */
  url: string | undefined;
}

export interface TestDatabaseOptions {
  /** Run `migrate` (owned mode: platform and realtime tables). Default true. */
  migrate?: boolean;
  /** drizzle's query logger for the database's `orm` (see OpenDatabaseOptions.logger). */
  logger?: Logger;
}

/**
 * Opens a new empty database, migrated unless `migrate: false`, and registers `t.after` to close it and drop it.
 * With `DATABASE_URL` (used as the admin connection): `CREATE DATABASE rt_test_<random>` on that server, dropped
 * `WITH (FORCE)` afterwards. Without: an in-memory PGlite, loaded from a per-process template dumped after the first
 * one was created (and migrated), which skips PGlite's initdb: about 0.6 s instead of 2-4 s.
 */
export async function createTestDatabase(
  t: { after(fn: () => unknown): void },
  options: TestDatabaseOptions = {},
): Promise<TestDatabase> {
  const migrated = options.migrate !== false;
  const adminUrl = process.env.DATABASE_URL;
  if (adminUrl) return createPostgresDatabase(t, adminUrl, migrated, options.logger);
  return { db: await createPgliteDatabase(t, migrated, options.logger), url: undefined };
}

/**
 * A new database on a real PostgreSQL whatever `DATABASE_URL` says, for tests that need several processes on one
 * database (PGlite is single-process): the server of `DATABASE_URL`, else the machine's at 127.0.0.1:5432.
 */
export function createPostgresTestDatabase(t: { after(fn: () => unknown): void }, options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  return createPostgresDatabase(t, adminUrl, options.migrate !== false, options.logger);
}

async function createPostgresDatabase(
  t: { after(fn: () => unknown): void },
  adminUrl: string,
  migrated: boolean,
  logger?: Logger,
): Promise<TestDatabase> {
  const name = `rt_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `create database ${name}`);
  let db: Database | undefined;
  t.after(async () => {
    await db?.close();
    await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  db = await openDatabase({ url: url.toString(), logger });
  if (migrated) await migrate(db);
  return { db, url: url.toString() };
}

async function adminQuery(adminUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Dumped data folders to start PGlites from, one per `migrated` value, made by the first database of the process. */
const templates = new Map<boolean, Promise<Blob>>();

async function createPgliteDatabase(t: { after(fn: () => unknown): void }, migrated: boolean, logger?: Logger): Promise<Database> {
  const template = templates.get(migrated);
  if (template) {
    const db = await openDatabase({ pglite: new PGlite({ loadDataDir: await template }), logger });
    t.after(() => db.close());
    return db;
  }
  const pglite = new PGlite();
  const db = await openDatabase({ pglite, logger });
  t.after(() => db.close());
  const dumped = (async () => {
    if (migrated) await migrate(db);
    await pglite.exec('checkpoint'); // so that a loaded copy needs no WAL replay
    return pglite.dumpDataDir('none');
  })();
  templates.set(migrated, dumped);
  // A failed build is not cached: the next test reports its own error.
  dumped.catch(() => templates.delete(migrated));
  await dumped;
  return db;
}

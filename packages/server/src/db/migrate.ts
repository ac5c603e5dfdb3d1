/**
 * Brings a database to the shape the gateway needs, in one of two modes:
 * - owned: the platform tables are absent (the embedded database, an empty PostgreSQL), so the gateway creates them
 *   as Prisma would (migrations/platform.sql);
 * - shared: they all exist (the platform's own database), so the gateway only checks that every column it maps in
 *   schema.ts is there and never creates, alters or drops anything in `public`.
 * In both modes it then applies its own migrations (migrations/realtime/*.sql, schema `realtime`).
 */
import { readdir, readFile } from 'node:fs/promises';
import { is, sql } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { queryRows, type Database, type Queryable } from './client.ts';
import * as schema from './schema.ts';

const MIGRATIONS = new URL('./migrations/', import.meta.url);
const REALTIME_MIGRATIONS = new URL('./migrations/realtime/', import.meta.url);
/** The advisory lock key that serializes concurrent `migrate` calls (any constant; ASCII "rtmig"). */
const MIGRATE_LOCK = 0x72746d6967;
/** The name under which platform.sql is recorded in realtime.migrations. */
const PLATFORM = 'platform';

/** The platform tables and the columns the gateway maps, from schema.ts (its tables outside schema `realtime`). */
const PLATFORM_TABLES = (Object.values(schema) as unknown[])
  .filter((value): value is PgTable => is(value, PgTable))
  .map((table) => getTableConfig(table))
  .filter((config) => config.schema === undefined)
  .map((config) => ({ name: config.name, columns: config.columns.map((c) => c.name) }));

export interface MigrateResult {
  /** 'owned' when the gateway created the platform tables (now or on an earlier run), 'shared' when it found them. */
  mode: 'owned' | 'shared';
  /** What this call applied, in order: 'platform' for platform.sql, then realtime file names without `.sql`. */
  applied: string[];
}

/**
 * Migrates `db` (see the module comment). Idempotent: a second call applies nothing. Safe to run from several
 * processes at once: every step holds a transaction-scoped advisory lock and re-checks what is applied under it.
 * Each realtime file runs in its own transaction and is recorded in `realtime.migrations` in that transaction.
 * Throws, changing nothing, when only some platform tables exist or a platform table lacks a column schema.ts maps;
 * the message names the missing tables or `table.column`s.
 */
export async function migrate(db: Database): Promise<MigrateResult> {
  const applied: string[] = [];
  const mode = await db.orm.transaction(async (tx) => {
    await lock(tx);
    await tx.execute(sql`create schema if not exists realtime`);
    await tx.execute(
      sql`create table if not exists realtime.migrations (name text primary key, applied_at timestamptz not null default now())`,
    );
    const existing = await publicColumns(tx);
    const missingTables = PLATFORM_TABLES.filter((t) => !existing.has(t.name)).map((t) => t.name);
    if (missingTables.length === PLATFORM_TABLES.length) {
      await db.execScript(tx, await readFile(new URL('platform.sql', MIGRATIONS), 'utf8'));
      await record(tx, PLATFORM);
      applied.push(PLATFORM);
      return 'owned' as const;
    }
    if (missingTables.length > 0) {
      throw new Error(
        `Only some platform tables exist in schema "public"; missing: ${missingTables.join(', ')}. The gateway creates ` +
          'the platform tables only in a database that has none of them and never alters a platform database: point ' +
          'DATABASE_URL at the complete platform database or at an empty one.',
      );
    }
    const missingColumns = PLATFORM_TABLES.flatMap((t) =>
      t.columns.filter((c) => !existing.get(t.name)!.has(c)).map((c) => `${t.name}.${c}`),
    );
    if (missingColumns.length > 0) {
      throw new Error(
        `The platform database lacks columns the gateway uses: ${missingColumns.join(', ')}. The gateway does not ` +
          "alter platform tables: add them with the platform's own (Prisma) migrations, then start the gateway again.",
      );
    }
    return (await isRecorded(tx, PLATFORM)) ? ('owned' as const) : ('shared' as const);
  });

  for (const file of await realtimeFiles()) {
    const name = file.slice(0, -'.sql'.length);
    const script = await readFile(new URL(file, REALTIME_MIGRATIONS), 'utf8');
    const ran = await db.orm.transaction(async (tx) => {
      await lock(tx);
      if (await isRecorded(tx, name)) return false;
      await db.execScript(tx, script);
      await record(tx, name);
      return true;
    });
    if (ran) applied.push(name);
  }
  return { mode, applied };
}

async function lock(tx: Queryable): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATE_LOCK})`);
}

/** Table name → column names of the tables in `public`, read from pg_catalog so that grants don't hide any. */
async function publicColumns(tx: Queryable): Promise<Map<string, Set<string>>> {
  const rows = await queryRows<{ table: string; column: string }>(
    tx,
    sql`select c.relname as "table", a.attname as "column"
        from pg_catalog.pg_attribute a
        join pg_catalog.pg_class c on c.oid = a.attrelid
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped`,
  );
  const tables = new Map<string, Set<string>>();
  for (const { table, column } of rows) {
    let columns = tables.get(table);
    if (!columns) tables.set(table, (columns = new Set()));
    columns.add(column);
  }
  return tables;
}

async function isRecorded(tx: Queryable, name: string): Promise<boolean> {
  const rows = await queryRows(tx, sql`select 1 from realtime.migrations where name = ${name}`);
  return rows.length > 0;
}

async function record(tx: Queryable, name: string): Promise<void> {
  await tx.execute(sql`insert into realtime.migrations (name) values (${name}) on conflict (name) do nothing`);
}

/** The realtime migration files, in name order. */
async function realtimeFiles(): Promise<string[]> {
  return (await readdir(REALTIME_MIGRATIONS)).filter((f) => f.endsWith('.sql')).sort();
}

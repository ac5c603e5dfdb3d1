import { test } from 'node:test';
import assert from 'node:assert/strict';
import { is, sql } from 'drizzle-orm';
import { getTableConfig, isPgEnum, PgTable } from 'drizzle-orm/pg-core';
import { openDatabase, queryRows, type Database } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import * as schema from '../src/db/schema.ts';
import { createTestDatabase } from './helpers/database.ts';
import { readdirSync } from 'node:fs';

/** The realtime migrations in the order migrate applies them (file names without `.sql`). */
const REALTIME_MIGRATIONS = readdirSync(new URL('../src/db/migrations/realtime/', import.meta.url))
  .filter((f) => f.endsWith('.sql'))
  .sort()
  .map((f) => f.slice(0, -'.sql'.length));

const TABLES = (Object.values(schema) as unknown[]).filter((v): v is PgTable => is(v, PgTable)).map((t) => getTableConfig(t));
const PLATFORM = TABLES.filter((t) => t.schema === undefined);
const REALTIME = TABLES.filter((t) => t.schema === 'realtime');

/**
 * The platform tables as a real Fonana database has them: Prisma's DDL, more columns than the gateway maps
 * (users.bio, users.token, posts.imageAspectRatio), more foreign keys, and tables the gateway knows nothing about.
 */
const PRISMA_PLATFORM = `
CREATE TYPE "PaymentStatus" AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'REFUNDED');
CREATE TYPE "NotificationType" AS ENUM ('LIKE_POST', 'LIKE_COMMENT', 'COMMENT_POST', 'REPLY_COMMENT', 'NEW_SUBSCRIBER', 'POST_PURCHASE', 'MESSAGE_PURCHASE', 'SUBSCRIPTION_PURCHASE', 'TIP_RECEIVED', 'POST_SALE', 'SYSTEM_ANNOUNCEMENT', 'NEW_MESSAGE', 'NEW_POST_FROM_SUBSCRIPTION');
CREATE TYPE "TransactionType" AS ENUM ('SUBSCRIPTION', 'PLATFORM_FEE', 'REFERRER_FEE', 'WITHDRAWAL', 'REFUND', 'POST_PURCHASE', 'MESSAGE_PURCHASE', 'TIP');
CREATE TYPE "TransactionStatus" AS ENUM ('PENDING', 'CONFIRMED', 'FAILED', 'EXPIRED');
CREATE TABLE "users" (
    "id" TEXT NOT NULL,
    "wallet" TEXT NOT NULL,
    "solana_wallet" TEXT,
    "nickname" TEXT,
    "fullName" TEXT,
    "name" TEXT,
    "email" TEXT,
    "bio" TEXT,
    "avatar" TEXT,
    "isVerified" BOOLEAN NOT NULL DEFAULT false,
    "isCreator" BOOLEAN NOT NULL DEFAULT false,
    "referrerId" TEXT,
    "token" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "posts" (
    "id" TEXT NOT NULL,
    "creatorId" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "category" TEXT,
    "thumbnail" TEXT,
    "mediaUrl" TEXT,
    "isLocked" BOOLEAN NOT NULL DEFAULT false,
    "isPremium" BOOLEAN NOT NULL DEFAULT false,
    "price" DOUBLE PRECISION,
    "currency" TEXT NOT NULL DEFAULT 'SOL',
    "isSellable" BOOLEAN NOT NULL DEFAULT false,
    "minSubscriptionTier" TEXT,
    "imageAspectRatio" DECIMAL(65,30),
    "likesCount" INTEGER NOT NULL DEFAULT 0,
    "commentsCount" INTEGER NOT NULL DEFAULT 0,
    "viewsCount" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "posts_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "subscriptions" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "creatorId" TEXT NOT NULL,
    "plan" TEXT NOT NULL,
    "price" DOUBLE PRECISION NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'SOL',
    "subscribedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "validUntil" TIMESTAMP(3) NOT NULL,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "txSignature" TEXT,
    "paymentStatus" "PaymentStatus" NOT NULL DEFAULT 'PENDING',
    CONSTRAINT "subscriptions_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "post_purchases" (
    "id" TEXT NOT NULL,
    "postId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "price" DOUBLE PRECISION NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'SOL',
    "txSignature" TEXT,
    "purchasedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "paymentStatus" "PaymentStatus" NOT NULL DEFAULT 'PENDING',
    "platformFee" DOUBLE PRECISION,
    "referrerFee" DOUBLE PRECISION,
    "creatorAmount" DOUBLE PRECISION,
    CONSTRAINT "post_purchases_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "transactions" (
    "id" TEXT NOT NULL,
    "txSignature" TEXT NOT NULL,
    "fromWallet" TEXT,
    "toWallet" TEXT,
    "amount" DOUBLE PRECISION NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'SOL',
    "type" "TransactionType" NOT NULL,
    "status" "TransactionStatus" NOT NULL DEFAULT 'PENDING',
    "platformFee" DOUBLE PRECISION,
    "referrerFee" DOUBLE PRECISION,
    "referrerWallet" TEXT,
    "metadata" JSONB,
    "errorMessage" TEXT,
    "confirmedAt" TIMESTAMP(3),
    "subscriptionId" TEXT,
    "postPurchaseId" TEXT,
    "senderId" TEXT,
    "receiverId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "transactions_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "notifications" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "type" "NotificationType" NOT NULL,
    "title" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "isRead" BOOLEAN NOT NULL DEFAULT false,
    "metadata" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "creator_tier_settings" (
    "id" TEXT NOT NULL,
    "creatorId" TEXT NOT NULL,
    "basicTier" JSONB,
    "premiumTier" JSONB,
    "vipTier" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "creator_tier_settings_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "likes" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "postId" TEXT,
    "commentId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "likes_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "users_wallet_key" ON "users"("wallet");
CREATE UNIQUE INDEX "users_nickname_key" ON "users"("nickname");
CREATE UNIQUE INDEX "subscriptions_userId_creatorId_key" ON "subscriptions"("userId", "creatorId");
CREATE UNIQUE INDEX "post_purchases_userId_postId_key" ON "post_purchases"("userId", "postId");
CREATE UNIQUE INDEX "transactions_txSignature_key" ON "transactions"("txSignature");
CREATE UNIQUE INDEX "transactions_postPurchaseId_key" ON "transactions"("postPurchaseId");
CREATE INDEX "notifications_userId_isRead_idx" ON "notifications"("userId", "isRead");
CREATE UNIQUE INDEX "creator_tier_settings_creatorId_key" ON "creator_tier_settings"("creatorId");
CREATE UNIQUE INDEX "likes_userId_postId_key" ON "likes"("userId", "postId");
ALTER TABLE "users" ADD CONSTRAINT "users_referrerId_fkey" FOREIGN KEY ("referrerId") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "posts" ADD CONSTRAINT "posts_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "likes" ADD CONSTRAINT "likes_postId_fkey" FOREIGN KEY ("postId") REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;
`;

/** Everything observable about schema `public`: relations, columns, constraints, indexes, enum types. */
async function snapshotPublic(db: Database) {
  const q = (text: string) => queryRows<Record<string, unknown>>(db.orm, sql.raw(text));
  return {
    relations: await q(`select relname, relkind from pg_class where relnamespace = 'public'::regnamespace order by 1`),
    columns: await q(
      `select table_name, column_name, ordinal_position, data_type, udt_name, is_nullable, column_default,
              numeric_precision, numeric_scale, datetime_precision
       from information_schema.columns where table_schema = 'public' order by table_name, ordinal_position`,
    ),
    constraints: await q(
      `select conrelid::regclass::text as tbl, conname, pg_get_constraintdef(oid) as def
       from pg_constraint where connamespace = 'public'::regnamespace order by 1, 2`,
    ),
    indexes: await q(`select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' order by 1, 2`),
    types: await q(
      `select t.typname, string_agg(e.enumlabel, ',' order by e.enumsortorder) as labels
       from pg_type t join pg_enum e on e.enumtypid = t.oid where t.typnamespace = 'public'::regnamespace group by 1 order by 1`,
    ),
  };
}

interface DbColumn {
  schema: string;
  table: string;
  column: string;
  type: string;
  notNull: boolean;
  default: string | null;
}

async function columnsOf(db: Database): Promise<Map<string, DbColumn>> {
  const rows = await queryRows<DbColumn>(
    db.orm,
    sql`select n.nspname as schema, c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type,
               a.attnotnull as "notNull", pg_get_expr(d.adbin, d.adrelid) as default
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where n.nspname in ('public', 'realtime') and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped`,
  );
  return new Map(rows.map((r) => [`${r.schema}.${r.table}.${r.column}`, r]));
}

interface DbIndex {
  schema: string;
  table: string;
  name: string;
  unique: boolean;
  primary: boolean;
  columns: string;
  predicate: string | null;
}

async function indexesOf(db: Database): Promise<DbIndex[]> {
  return queryRows<DbIndex>(
    db.orm,
    sql`select n.nspname as schema, t.relname as table, i.relname as name, ix.indisunique as unique,
               ix.indisprimary as primary, pg_get_expr(ix.indpred, ix.indrelid) as predicate,
               (select string_agg(a.attname, ',' order by k.ord)
                from unnest(ix.indkey) with ordinality k(attnum, ord)
                join pg_attribute a on a.attrelid = ix.indrelid and a.attnum = k.attnum) as columns
        from pg_index ix
        join pg_class i on i.oid = ix.indexrelid
        join pg_class t on t.oid = ix.indrelid
        join pg_namespace n on n.oid = t.relnamespace
        where n.nspname in ('public', 'realtime')`,
  );
}

/** drizzle's SQL type name → PostgreSQL's `format_type` spelling. */
function pgType(drizzleType: string): string {
  const types: Record<string, string> = { 'timestamp (3)': 'timestamp(3) without time zone', bigserial: 'bigint' };
  return types[drizzleType] ?? drizzleType;
}

/** Asserts that every table of `tables` exists with every column, type, nullability, default, key and index schema.ts declares. */
async function assertMatchesSchema(db: Database, tables: ReturnType<typeof getTableConfig>[]): Promise<void> {
  const columns = await columnsOf(db);
  const indexes = await indexesOf(db);
  for (const table of tables) {
    const ns = table.schema ?? 'public';
    const indexOn = (cols: string[]) => indexes.find((i) => i.schema === ns && i.table === table.name && i.columns === cols.join(','));
    for (const col of table.columns) {
      const where = `${ns}.${table.name}.${col.name}`;
      const found = columns.get(where);
      assert.ok(found, `${where} exists`);
      assert.equal(found.type.replaceAll('"', ''), pgType(col.getSQLType()), `${where} type`);
      assert.equal(found.notNull, col.notNull, `${where} not null`);
      // PostgreSQL keeps a generated column's expression where defaults go.
      assert.equal(found.default !== null, col.hasDefault || col.generated !== undefined, `${where} has a default`);
      if (typeof col.default === 'string') assert.ok(found.default?.startsWith(`'${col.default}'::`), `${where} default ${found.default}`);
      if (typeof col.default === 'boolean' || typeof col.default === 'number') assert.equal(found.default, String(col.default), `${where} default`);
      if (col.primary) assert.ok(indexOn([col.name])?.primary, `${where} is the primary key`);
      if (col.isUnique) assert.ok(indexOn([col.name])?.unique, `${where} is unique`);
    }
    for (const pk of table.primaryKeys) assert.ok(indexOn(pk.columns.map((c) => c.name))?.primary, `${ns}.${table.name} primary key`);
    for (const index of table.indexes) {
      const found = indexes.find((i) => i.schema === ns && i.name === index.config.name);
      assert.ok(found, `index ${index.config.name}`);
      assert.equal(found.columns, index.config.columns.map((c) => (c as { name: string }).name).join(','), `${index.config.name} columns`);
      assert.equal(found.unique, index.config.unique, `${index.config.name} unique`);
    }
  }
}

async function tableNames(db: Database, ns: string): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(
    db.orm,
    sql`select table_name as name from information_schema.tables where table_schema = ${ns} order by 1`,
  );
  return rows.map((r) => r.name);
}

test('owned: an empty database gets every platform and realtime table and column schema.ts declares; a second run applies nothing', async (t) => {
  const { db } = await createTestDatabase(t, { migrate: false });
  assert.deepEqual(await migrate(db), { mode: 'owned', applied: ['platform', ...REALTIME_MIGRATIONS] });

  await assertMatchesSchema(db, TABLES);
  assert.deepEqual(await tableNames(db, 'public'), PLATFORM.map((t) => t.name).sort());
  assert.deepEqual(await tableNames(db, 'realtime'), [...REALTIME.map((t) => t.name), 'migrations'].sort());

  const indexes = await indexesOf(db);
  for (const name of [
    'users_wallet_key',
    'users_nickname_key',
    'subscriptions_userId_creatorId_key',
    'post_purchases_userId_postId_key',
    'transactions_txSignature_key',
    'transactions_postPurchaseId_key',
    'creator_tier_settings_creatorId_key',
  ]) {
    assert.ok(indexes.find((i) => i.name === name)?.unique, `unique index ${name} (Prisma's name)`);
  }
  assert.ok(indexes.find((i) => i.name === 'notifications_userId_isRead_idx'));
  const unpublished = indexes.find((i) => i.name === 'outbox_unpublished_idx');
  assert.equal(unpublished?.columns, 'id');
  assert.equal(unpublished?.predicate, '(published_at IS NULL)');

  const [fk] = await queryRows<{ def: string }>(
    db.orm,
    sql`select pg_get_constraintdef(oid) as def from pg_constraint where conname = 'posts_creatorId_fkey'`,
  );
  assert.match(fk?.def ?? '', /^FOREIGN KEY \("creatorId"\) REFERENCES users\(id\) ON UPDATE CASCADE ON DELETE CASCADE$/);

  const enums = (Object.values(schema) as unknown[]).filter(isPgEnum);
  const { types } = await snapshotPublic(db);
  assert.deepEqual(
    types,
    enums.map((e) => ({ typname: e.enumName, labels: e.enumValues.join(',') })).sort((a, b) => (a.typname < b.typname ? -1 : 1)),
  );

  const before = await snapshotPublic(db);
  assert.deepEqual(await migrate(db), { mode: 'owned', applied: [] });
  assert.deepEqual(await snapshotPublic(db), before);
});

test('shared: a Prisma-made platform database with extra columns and tables is left exactly as it was', async (t) => {
  const { db } = await createTestDatabase(t, { migrate: false });
  await db.execScript(db.orm, PRISMA_PLATFORM);
  const before = await snapshotPublic(db);

  assert.deepEqual(await migrate(db), { mode: 'shared', applied: REALTIME_MIGRATIONS });
  assert.deepEqual(await snapshotPublic(db), before);
  await assertMatchesSchema(db, REALTIME);
  assert.ok((await tableNames(db, 'public')).includes('likes'));

  assert.deepEqual(await migrate(db), { mode: 'shared', applied: [] });
  assert.deepEqual(await snapshotPublic(db), before);
});

test('shared: a platform database missing columns the gateway maps is refused, naming them, and nothing changes', async (t) => {
  const { db } = await createTestDatabase(t, { migrate: false });
  const drifted = PRISMA_PLATFORM.replace('    "minSubscriptionTier" TEXT,\n', '').replace(
    `    "paymentStatus" "PaymentStatus" NOT NULL DEFAULT 'PENDING',\n    CONSTRAINT "subscriptions_pkey"`,
    '    CONSTRAINT "subscriptions_pkey"',
  );
  assert.notEqual(drifted.length, PRISMA_PLATFORM.length);
  await db.execScript(db.orm, drifted);
  const before = await snapshotPublic(db);

  await assert.rejects(migrate(db), (err: Error) => {
    assert.match(err.message, /posts\.minSubscriptionTier/);
    assert.match(err.message, /subscriptions\.paymentStatus/);
    assert.doesNotMatch(err.message, /posts\.title/);
    assert.match(err.message, /does not alter platform tables/);
    return true;
  });
  assert.deepEqual(await snapshotPublic(db), before);
  assert.deepEqual(await tableNames(db, 'realtime'), [], 'the failed run left no realtime schema behind');
});

test('some but not all platform tables: refused, naming the missing ones', async (t) => {
  const { db } = await createTestDatabase(t, { migrate: false });
  const usersAndPosts = PRISMA_PLATFORM.slice(0, PRISMA_PLATFORM.indexOf('CREATE TABLE "subscriptions"'));
  await db.execScript(db.orm, usersAndPosts);
  const before = await snapshotPublic(db);

  await assert.rejects(migrate(db), (err: Error) => {
    const missing = PLATFORM.map((t) => t.name).filter((name) => name !== 'users' && name !== 'posts');
    assert.match(err.message, new RegExp(`missing: ${missing.join(', ')}\\.`));
    return true;
  });
  assert.deepEqual(await snapshotPublic(db), before);
});

test('two migrations at once: each step is applied exactly once', async (t) => {
  const { db, url } = await createTestDatabase(t, { migrate: false });
  // PostgreSQL: a second pool on the same database, as a second gateway process would have. PGlite has one connection.
  const other = url ? await openDatabase({ url }) : db;
  try {
    const results = await Promise.all([migrate(db), migrate(other), migrate(db)]);
    assert.deepEqual(results.flatMap((r) => r.applied).sort(), [...REALTIME_MIGRATIONS, 'platform'].sort());
    assert.ok(results.every((r) => r.mode === 'owned'));
    await assertMatchesSchema(db, TABLES);
  } finally {
    if (other !== db) await other.close();
  }
});

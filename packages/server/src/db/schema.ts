/**
 * drizzle schema. Two parts:
 * - the platform tables, mapped by the exact names a Prisma-managed Fonana database uses
 *   (snake_case tables, quoted camelCase columns, `timestamp(3)` UTC, see shared/reference/platform-schema.md).
 *   Only the columns the gateway reads or writes are declared; a real platform table may have more.
 * - the gateway's own tables, in the PostgreSQL schema `realtime`, so they never collide with Prisma migrations.
 *
 * The DDL that creates these lives in migrations/*.sql (see migrate.ts); a test checks the two agree.
 */
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgSchema,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';

const ts = (name: string) => timestamp(name, { precision: 3, mode: 'date' });

export const paymentStatus = pgEnum('PaymentStatus', ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'REFUNDED']);
export const notificationType = pgEnum('NotificationType', [
  'LIKE_POST',
  'LIKE_COMMENT',
  'COMMENT_POST',
  'REPLY_COMMENT',
  'NEW_SUBSCRIBER',
  'POST_PURCHASE',
  'MESSAGE_PURCHASE',
  'SUBSCRIPTION_PURCHASE',
  'TIP_RECEIVED',
  'POST_SALE',
  'SYSTEM_ANNOUNCEMENT',
  'NEW_MESSAGE',
  'NEW_POST_FROM_SUBSCRIPTION',
]);
export const transactionType = pgEnum('TransactionType', [
  'SUBSCRIPTION',
  'PLATFORM_FEE',
  'REFERRER_FEE',
  'WITHDRAWAL',
  'REFUND',
  'POST_PURCHASE',
  'MESSAGE_PURCHASE',
  'TIP',
]);
export const transactionStatus = pgEnum('TransactionStatus', ['PENDING', 'CONFIRMED', 'FAILED', 'EXPIRED']);

export const users = pgTable('users', {
  id: text('id').primaryKey(),
  wallet: text('wallet').notNull().unique(),
  nickname: text('nickname').unique(),
  fullName: text('fullName'),
  name: text('name'),
  email: text('email'),
  avatar: text('avatar'),
  isVerified: boolean('isVerified').notNull().default(false),
  isCreator: boolean('isCreator').notNull().default(false),
  solanaWallet: text('solana_wallet'),
  createdAt: ts('createdAt').notNull().defaultNow(),
  updatedAt: ts('updatedAt').notNull(),
});

export const posts = pgTable(
  'posts',
  {
    id: text('id').primaryKey(),
    creatorId: text('creatorId')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    content: text('content').notNull(),
    type: text('type').notNull(),
    category: text('category'),
    thumbnail: text('thumbnail'),
    mediaUrl: text('mediaUrl'),
    isLocked: boolean('isLocked').notNull().default(false),
    isPremium: boolean('isPremium').notNull().default(false),
    price: doublePrecision('price'),
    currency: text('currency').notNull().default('SOL'),
    isSellable: boolean('isSellable').notNull().default(false),
    minSubscriptionTier: text('minSubscriptionTier'),
    likesCount: integer('likesCount').notNull().default(0),
    commentsCount: integer('commentsCount').notNull().default(0),
    viewsCount: integer('viewsCount').notNull().default(0),
    createdAt: ts('createdAt').notNull().defaultNow(),
    updatedAt: ts('updatedAt').notNull(),
  },
  (t) => [index('posts_creatorId_idx').on(t.creatorId)],
);

export const subscriptions = pgTable(
  'subscriptions',
  {
    id: text('id').primaryKey(),
    userId: text('userId').notNull(),
    creatorId: text('creatorId').notNull(),
    plan: text('plan').notNull(),
    price: doublePrecision('price').notNull(),
    currency: text('currency').notNull().default('SOL'),
    subscribedAt: ts('subscribedAt').notNull().defaultNow(),
    validUntil: ts('validUntil').notNull(),
    isActive: boolean('isActive').notNull().default(true),
    txSignature: text('txSignature'),
    paymentStatus: paymentStatus('paymentStatus').notNull().default('PENDING'),
  },
  (t) => [uniqueIndex('subscriptions_userId_creatorId_key').on(t.userId, t.creatorId)],
);

export const postPurchases = pgTable(
  'post_purchases',
  {
    id: text('id').primaryKey(),
    postId: text('postId').notNull(),
    userId: text('userId').notNull(),
    price: doublePrecision('price').notNull(),
    currency: text('currency').notNull().default('SOL'),
    txSignature: text('txSignature'),
    purchasedAt: ts('purchasedAt').notNull().defaultNow(),
    paymentStatus: paymentStatus('paymentStatus').notNull().default('PENDING'),
    platformFee: doublePrecision('platformFee'),
    referrerFee: doublePrecision('referrerFee'),
    creatorAmount: doublePrecision('creatorAmount'),
  },
  (t) => [uniqueIndex('post_purchases_userId_postId_key').on(t.userId, t.postId)],
);

export const transactions = pgTable('transactions', {
  id: text('id').primaryKey(),
  txSignature: text('txSignature').notNull().unique(),
  fromWallet: text('fromWallet'),
  toWallet: text('toWallet'),
  amount: doublePrecision('amount').notNull(),
  currency: text('currency').notNull().default('SOL'),
  type: transactionType('type').notNull(),
  status: transactionStatus('status').notNull().default('PENDING'),
  metadata: jsonb('metadata'),
  confirmedAt: ts('confirmedAt'),
  subscriptionId: text('subscriptionId'),
  postPurchaseId: text('postPurchaseId').unique(),
  senderId: text('senderId'),
  receiverId: text('receiverId'),
  createdAt: ts('createdAt').notNull().defaultNow(),
  updatedAt: ts('updatedAt').notNull(),
});

export const notifications = pgTable(
  'notifications',
  {
    id: text('id').primaryKey(),
    userId: text('userId').notNull(),
    type: notificationType('type').notNull(),
    title: text('title').notNull(),
    message: text('message').notNull(),
    isRead: boolean('isRead').notNull().default(false),
    metadata: jsonb('metadata'),
    createdAt: ts('createdAt').notNull().defaultNow(),
  },
  (t) => [index('notifications_userId_isRead_idx').on(t.userId, t.isRead)],
);

export const creatorTierSettings = pgTable('creator_tier_settings', {
  id: text('id').primaryKey(),
  creatorId: text('creatorId').notNull().unique(),
  basicTier: jsonb('basicTier'),
  premiumTier: jsonb('premiumTier'),
  vipTier: jsonb('vipTier'),
});

// ---------------------------------------------------------------------------------------------
// The gateway's own tables (schema `realtime`).

export const realtime = pgSchema('realtime');

/** Events, written in the same transaction as the change they announce; the relay publishes them in id order. */
export const outbox = realtime.table(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    eventId: text('event_id').notNull().unique(),
    channel: text('channel').notNull(),
    offset: bigint('offset', { mode: 'number' }).notNull(),
    type: text('type').notNull(),
    /** The event's `data`; SQL NULL stands for JSON null. */
    payload: jsonb('payload'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    publishedAt: timestamp('published_at', { withTimezone: true, mode: 'date' }),
    /** Stable hash of `channel` (0 … 2³¹−1), computed by PostgreSQL; the relay partition is `channel_hash % OUTBOX_PARTITIONS`. */
    channelHash: integer('channel_hash').generatedAlwaysAs(sql`(('x' || substr(md5(channel), 1, 8))::bit(32)::int & 2147483647)`),
  },
  (t) => [index('outbox_channel_offset_idx').on(t.channel, t.offset)],
);

/**
 * The last offset handed out per channel, and the epoch of the channel's history (random, set when the row is
 * created). Its row lock orders writers of one channel.
 */
export const channelOffsets = realtime.table('channel_offsets', {
  channel: text('channel').primaryKey(),
  lastOffset: bigint('last_offset', { mode: 'number' }).notNull(),
  epoch: text('epoch').notNull().default(sql`substr(md5(random()::text || clock_timestamp()::text), 1, 16)`),
});

/** `POST /v1/publish` idempotency keys: the same key within the window returns the same event id. */
export const publishKeys = realtime.table('publish_keys', {
  key: text('key').primaryKey(),
  eventId: text('event_id').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/** The answer given to each payment confirmation, keyed by the transaction signature, replayed verbatim on a retry. */
export const paymentConfirmations = realtime.table('payment_confirmations', {
  txSignature: text('tx_signature').primaryKey(),
  kind: text('kind').notNull(),
  result: jsonb('result').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/** Subscription state changes already announced by the sweep (expiry), so each is announced once. */
export const subscriptionNotices = realtime.table(
  'subscription_notices',
  {
    subscriptionId: text('subscription_id').notNull(),
    validUntil: ts('valid_until').notNull(),
    kind: text('kind').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.subscriptionId, t.validUntil, t.kind] })],
);

/** Per user, the earliest `iat` a token may have (set by `POST /v1/users/:id/disconnect`); earlier tokens are refused. */
export const tokenNotBefore = realtime.table('token_not_before', {
  userId: text('user_id').primaryKey(),
  notBefore: timestamp('not_before', { withTimezone: true, mode: 'date' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

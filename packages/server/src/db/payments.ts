/**
 * Payment confirmations from the platform's payment verifier. Each confirmation is validated against the database
 * (never trusting the client's numbers) and applied in ONE transaction keyed by the unique `transactions.txSignature`:
 * the transactions row, the purchase or subscription, the creator's notification, the outbox events, and the answer
 * itself (realtime.payment_confirmations), so a repeated confirmation returns the same answer and writes nothing.
 */
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { newSubscription, notificationCreated, postPurchased, type DomainEvent } from '../domain/events.ts';
import { isPriced, type PostAccessInput, type SubscriptionFacts } from '../domain/entitlement.ts';
import { unlockedPost, type ViewablePost } from '../domain/post-view.ts';
import { amountsMatch, tierPrice } from '../domain/pricing.ts';
import { planSubscriptionChange } from '../domain/subscription-change.ts';
import { normalizeTier, type PaidTier } from '../domain/tiers.ts';
import { GatewayError } from '../errors.ts';
import { queryRows, type Orm, type Queryable, type Tx } from './client.ts';
import { newId } from './ids.ts';
import { OUTBOX_ROW_COLUMNS, transactionWithEvents, type AppendEvents, type NewEvent, type OnCommitted, type OutboxRow } from './outbox.ts';
import { creatorTierSettings, paymentConfirmations, subscriptions } from './schema.ts';
import { PARTITION_SCAN, partitionPosts, subscriptionUpdatedWith } from './subscriptions.ts';

interface PaymentCommon {
  txSignature: string;
  userId: string;
  amount: number;
  currency: string;
  fromWallet?: string | undefined;
  toWallet?: string | undefined;
}
export interface PostPurchaseConfirmation extends PaymentCommon {
  kind: 'post_purchase';
  postId: string;
}
export interface SubscriptionConfirmation extends PaymentCommon {
  kind: 'subscription';
  creatorId: string;
  plan: string;
}
export type PaymentConfirmation = PostPurchaseConfirmation | SubscriptionConfirmation;

export type ConfirmationResult = Record<string, unknown> & { kind: PaymentConfirmation['kind']; txSignature: string; userId: string };

/** How plans are stored in `subscriptions.plan`: the platform's display names. */
const PLAN_DISPLAY: Readonly<Record<PaidTier, string>> = { basic: 'Basic', premium: 'Premium', vip: 'VIP' };
/** Subscription prices are in SOL (creator_tier_settings and the defaults). */
const TIER_CURRENCY = 'SOL';

const invalid = (message: string, field?: string) => new GatewayError('GW_ERR_PAYMENT_INVALID', message, field);

/**
 * Applies a confirmation once. Returns the stored answer and whether this call was a replay.
 * Throws GatewayError: GW_ERR_PAYMENT_INVALID (422) when the payment does not match the database,
 * GW_ERR_PAYMENT_CONFLICT (409) when it conflicts with the current state; in both cases nothing is written.
 */
export async function confirmPayment(
  db: Orm,
  confirmation: PaymentConfirmation,
  options: { now?: Date; onCommitted?: OnCommitted } = {},
): Promise<{ result: ConfirmationResult; replayed: boolean }> {
  const now = options.now ?? new Date();
  try {
    // A replay is found inside the transaction, under the pair's lock: no look-up before it costs every new payment a round trip.
    // One confirmation at a time per buyer and post (or subscriber and creator): without the lock, two payments
    // for a pair that has no row yet would both see "none" and the second would overwrite the first. It is taken
    // with BEGIN, before the read: a statement's snapshot is taken before a lock it asks for is granted, so a read
    // in the lock's statement would miss the answer of the identical confirmation it waited for.
    const target = confirmation.kind === 'post_purchase' ? confirmation.postId : confirmation.creatorId;
    return await transactionWithEvents(
      db,
      options.onCommitted,
      (tx, append) =>
        confirmation.kind === 'post_purchase' ? confirmPurchase(tx, confirmation, now, append) : confirmSubscription(tx, confirmation, now, append),
      { advisoryLock: `${confirmation.kind}:${confirmation.userId}:${target}` },
    );
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    // The same signature was committed meanwhile for another pair (or by another writer of `transactions`).
    const winner = await storedResult(db, confirmation);
    if (winner) return { result: winner, replayed: true };
    throw new GatewayError('GW_ERR_PAYMENT_CONFLICT', 'txSignature is already recorded in transactions', 'txSignature');
  }
}

async function storedResult(db: Queryable, c: PaymentConfirmation): Promise<ConfirmationResult | null> {
  const [row] = await db
    .select({ result: paymentConfirmations.result })
    .from(paymentConfirmations)
    .where(eq(paymentConfirmations.txSignature, c.txSignature));
  if (!row) return null;
  return checkStored(row.result as ConfirmationResult, c);
}

/** The stored answer of `c`'s signature, or a 409 when the signature was confirmed for another payment. */
function checkStored(result: ConfirmationResult, c: PaymentConfirmation): ConfirmationResult {
  const target = c.kind === 'post_purchase' ? c.postId : c.creatorId;
  const storedTarget = result.kind === 'post_purchase' ? result.postId : result.creatorId;
  if (result.kind !== c.kind || result.userId !== c.userId || storedTarget !== target) {
    throw new GatewayError('GW_ERR_PAYMENT_CONFLICT', 'txSignature was already confirmed for another payment', 'txSignature');
  }
  return result;
}

/**
 * A post purchase in two statements after the pair's lock: one read (the stored answer, the post, the buyer's name,
 * the pair's purchase row, locked, and the transaction's `now()`), then, once every check passed, one write: the
 * purchase, the transactions row, the notification, the outbox events and the stored answer. Every id is made here,
 * so nothing the write needs comes back from it.
 */
async function confirmPurchase(tx: Tx, c: PostPurchaseConfirmation, now: Date, append: AppendEvents): Promise<{ result: ConfirmationResult; replayed: boolean }> {
  // Written out rather than with drizzle's builders, which cost ~0.15 ms of CPU for this read and ~0.3 ms for the
  // write on this path (bench/RESULTS.md, "Purchase round trips"). Only the post columns the purchase uses.
  const [row] = await queryRows<PurchaseRead>(
    tx,
    sql`select (select pc."result" from "realtime"."payment_confirmations" pc where pc."tx_signature" = ${c.txSignature}) as "stored",
         ${userName(c.userId)} as "buyerName",
         (select json_build_object('id', pp."id", 'paymentStatus', pp."paymentStatus") from "post_purchases" pp
           where pp."userId" = ${c.userId} and pp."postId" = ${c.postId}
             and not exists (select 1 from "realtime"."payment_confirmations" pc where pc."tx_signature" = ${c.txSignature})
           for update) as "existing",
         ${NOW_TEXT} as "nowText",
         p."id", p."creatorId", p."title", p."content", p."type", p."mediaUrl", p."thumbnail", p."price", p."currency"
       from (select 1) as one left join "posts" p on p."id" = ${c.postId}`,
  );
  // `existing` is locked as the `select … for update` before the upsert did; not on a replay, which writes nothing.
  const { stored, buyerName, existing, nowText, ...postColumnsOrNulls } = row!;
  if (stored) return { result: checkStored(stored as ConfirmationResult, c), replayed: true };

  // Left-joined: every column is null when there is no such post.
  const post = postColumnsOrNulls.id === null ? null : (postColumnsOrNulls as PurchasedPost);
  if (!post) throw invalid('postId: no such post', 'postId');
  if (!isPriced(post)) throw invalid('postId: the post is not for sale', 'postId');
  if (buyerName === null) throw invalid('userId: no such user', 'userId');
  if (post.creatorId === c.userId) throw invalid('userId: a creator cannot buy their own post', 'userId');
  if (c.currency.toUpperCase() !== post.currency.toUpperCase()) throw invalid(`currency: the post is priced in ${post.currency}`, 'currency');
  if (!amountsMatch(c.amount, post.price!)) throw invalid(`amount: does not match the post price ${post.price} ${post.currency}`, 'amount');
  if (existing?.paymentStatus === 'COMPLETED') throw alreadyBought();

  const purchaseId = existing?.id ?? newId();
  const transaction = transactionRow(c, now, {
    type: 'POST_PURCHASE',
    metadata: { postId: c.postId, purchaseId },
    postPurchaseId: purchaseId,
    receiverId: post.creatorId,
  });
  const note = {
    id: newId(),
    userId: post.creatorId,
    type: 'POST_PURCHASE' as const,
    title: 'New purchase',
    message: `${buyerName} bought "${post.title}"`,
    metadata: { postId: post.id, buyerId: c.userId, purchaseId, price: post.price, currency: post.currency },
    isRead: false,
  };
  const events = [
    { ...postPurchased(c.userId, { postId: post.id, purchaseId, price: post.price!, currency: post.currency, post: unlockedPost(post) }), id: newId() },
    { ...notificationCreated({ ...note, createdAt: nowText }), id: newId() },
  ];
  const result: ConfirmationResult = {
    kind: 'post_purchase',
    txSignature: c.txSignature,
    userId: c.userId,
    postId: post.id,
    purchaseId,
    transactionId: transaction.id,
    price: post.price!,
    currency: post.currency,
    eventIds: events.map((e) => e.id),
  };
  // The upsert writes only over a purchase that is not COMPLETED (the read above saw it so, under its row lock).
  const written = await writeConfirmation(tx, append, sql`insert into "post_purchases"
      ("id", "postId", "userId", "price", "currency", "txSignature", "purchasedAt", "paymentStatus")
      values (${purchaseId}, ${c.postId}, ${c.userId}, ${post.price}, ${post.currency}, ${c.txSignature}, ${timestamp(now)}, 'COMPLETED')
      on conflict ("userId", "postId") do update set
        "price" = excluded."price", "currency" = excluded."currency", "txSignature" = excluded."txSignature",
        "purchasedAt" = excluded."purchasedAt", "paymentStatus" = excluded."paymentStatus"
      where "post_purchases"."paymentStatus" <> 'COMPLETED'
      returning "id"`, { transaction, note, result, events });
  // Only a writer outside these confirmations (which hold the pair's lock) can have made the pair's row since the
  // read: throwing rolls the whole write back.
  if (written !== purchaseId) throw alreadyBought();
  return { result, replayed: false };
}

const alreadyBought = () => new GatewayError('GW_ERR_PAYMENT_CONFLICT', 'the user has already bought this post', 'postId');

/**
 * A subscription payment in two statements after the pair's lock, as a purchase: one read (the stored answer, both
 * users' names, the creator's tier settings, the pair's subscription row, the creator's posts with the subscriber's
 * completed purchases of them, the transaction's `now()`), one write (the subscription upsert, the transactions row,
 * the notification, the outbox events, the stored answer). The `subscription-updated` event splits the posts with
 * the subscription as this write leaves it.
 */
async function confirmSubscription(
  tx: Tx,
  c: SubscriptionConfirmation,
  now: Date,
  append: AppendEvents,
): Promise<{ result: ConfirmationResult; replayed: boolean }> {
  const [row] = await tx
    .select({
      stored: sql<unknown>`(select ${paymentConfirmations.result} from ${paymentConfirmations} where ${paymentConfirmations.txSignature} = ${c.txSignature})`,
      subscriberName: userName(c.userId),
      creatorName: userName(c.creatorId),
      basicTier: creatorTierSettings.basicTier,
      premiumTier: creatorTierSettings.premiumTier,
      vipTier: creatorTierSettings.vipTier,
      hasSettings: sql<boolean>`${creatorTierSettings.id} is not null`,
      currentId: subscriptions.id,
      currentPlan: subscriptions.plan,
      currentIsActive: subscriptions.isActive,
      currentPaymentStatus: subscriptions.paymentStatus,
      currentValidUntil: subscriptions.validUntil,
      // creatorPostPartition's reads: the creator's newest posts, and which of them the subscriber bought.
      posts: sql<(PostAccessInput & { id: string; purchased: boolean })[]>`(
        select coalesce(json_agg(json_build_object(
                 'id', p."id", 'creatorId', p."creatorId", 'isLocked', p."isLocked", 'isPremium', p."isPremium",
                 'price', p."price", 'currency', p."currency", 'minSubscriptionTier', p."minSubscriptionTier",
                 'purchased', exists (select 1 from "post_purchases" pp
                                      where pp."userId" = ${c.userId} and pp."postId" = p."id" and pp."paymentStatus" = 'COMPLETED')
               ) order by p."createdAt" desc, p."id" desc), '[]'::json)
        from (select * from "posts" where "creatorId" = ${c.creatorId} order by "createdAt" desc, "id" desc limit ${PARTITION_SCAN}) p)`,
      nowText: NOW_TEXT,
    })
    .from(sql`(select 1) as one`)
    .leftJoin(creatorTierSettings, eq(creatorTierSettings.creatorId, c.creatorId))
    .leftJoin(subscriptions, and(eq(subscriptions.userId, c.userId), eq(subscriptions.creatorId, c.creatorId)));
  const r = row!;
  if (r.stored) return { result: checkStored(r.stored as ConfirmationResult, c), replayed: true };

  const tier = normalizeTier(c.plan);
  if (tier === null) throw invalid('plan: unknown plan', 'plan');
  if (tier === 'free') throw invalid('plan: the free plan needs no payment', 'plan');
  const subscriberName = r.subscriberName;
  if (subscriberName === null) throw invalid('userId: no such user', 'userId');
  if (r.creatorName === null) throw invalid('creatorId: no such creator', 'creatorId');
  if (c.creatorId === c.userId) throw invalid('creatorId: a creator cannot subscribe to themselves', 'creatorId');
  const settings = r.hasSettings ? { basicTier: r.basicTier, premiumTier: r.premiumTier, vipTier: r.vipTier } : null;
  const offer = tierPrice(settings, tier);
  if (!offer.enabled) throw invalid(`plan: the creator does not offer ${tier}`, 'plan');
  if (c.currency.toUpperCase() !== TIER_CURRENCY) throw invalid(`currency: subscriptions are priced in ${TIER_CURRENCY}`, 'currency');
  if (!amountsMatch(c.amount, offer.price)) throw invalid(`amount: does not match the ${tier} price ${offer.price} ${TIER_CURRENCY}`, 'amount');

  // The pair's advisory lock (confirmPayment) keeps this row from changing under us.
  const current =
    r.currentId === null
      ? null
      : { id: r.currentId, plan: r.currentPlan!, isActive: r.currentIsActive!, paymentStatus: r.currentPaymentStatus!, validUntil: r.currentValidUntil! };
  const change = planSubscriptionChange(current, tier, now);
  if (change.kind === 'conflict') throw new GatewayError('GW_ERR_PAYMENT_CONFLICT', change.reason, 'plan');

  const state = {
    plan: PLAN_DISPLAY[change.plan],
    price: c.amount,
    currency: TIER_CURRENCY,
    validUntil: change.validUntil,
    isActive: true,
    txSignature: c.txSignature,
    paymentStatus: 'COMPLETED' as const,
    ...(change.kind === 'new' ? { subscribedAt: now } : {}),
  };
  const subscriptionId = current?.id ?? newId();
  const transaction = transactionRow(c, now, {
    type: 'SUBSCRIPTION',
    metadata: { creatorId: c.creatorId, plan: change.plan, previousPlan: change.previousPlan, change: change.kind },
    subscriptionId,
    receiverId: c.creatorId,
  });
  const isNew = change.kind === 'new';
  const note = {
    id: newId(),
    userId: c.creatorId,
    type: isNew ? ('NEW_SUBSCRIBER' as const) : ('SUBSCRIPTION_PURCHASE' as const),
    title: isNew ? 'New subscriber' : change.kind === 'upgrade' ? 'Subscription upgraded' : 'Subscription renewed',
    message: `${subscriberName} ${isNew ? 'subscribed to' : change.kind === 'upgrade' ? 'upgraded to' : 'renewed'} ${PLAN_DISPLAY[change.plan]}`,
    metadata: { subscriberId: c.userId, subscriptionId, plan: change.plan, amount: c.amount, currency: TIER_CURRENCY },
    isRead: false,
  };
  // The subscriber's access as this write leaves the row (what creatorPostPartition would read after it).
  const after: SubscriptionFacts = { plan: state.plan, isActive: true, paymentStatus: 'COMPLETED', validUntil: change.validUntil };
  const purchased = new Set(r.posts.filter((p) => p.purchased).map((p) => p.id));
  const partition = partitionPosts(r.posts, (postId) => ({ userId: c.userId, hasCompletedPurchase: purchased.has(postId), subscription: after }), now);
  const toSend: DomainEvent[] = [
    subscriptionUpdatedWith(
      { userId: c.userId, creatorId: c.creatorId, plan: change.plan, previousPlan: change.previousPlan, status: 'active', validUntil: change.validUntil },
      partition,
    ),
  ];
  if (isNew) {
    toSend.push(newSubscription({ creatorId: c.creatorId, userId: c.userId, plan: change.plan, validUntil: change.validUntil.toISOString() }));
  }
  toSend.push(notificationCreated({ ...note, createdAt: r.nowText }));
  const events = toSend.map((e) => ({ ...e, id: newId() }));
  const result: ConfirmationResult = {
    kind: 'subscription',
    txSignature: c.txSignature,
    userId: c.userId,
    creatorId: c.creatorId,
    subscriptionId,
    transactionId: transaction.id,
    plan: change.plan,
    previousPlan: change.previousPlan,
    change: change.kind,
    validUntil: change.validUntil.toISOString(),
    amount: c.amount,
    currency: TIER_CURRENCY,
    eventIds: events.map((e) => e.id),
  };
  const written = await writeConfirmation(
    tx,
    append,
    tx
      .insert(subscriptions)
      .values({ id: subscriptionId, userId: c.userId, creatorId: c.creatorId, subscribedAt: now, ...state })
      .onConflictDoUpdate({ target: [subscriptions.userId, subscriptions.creatorId], set: state })
      .returning({ id: subscriptions.id })
      // getSQL: drizzle would put an embedded query in parentheses, which a CTE's insert does not allow.
      .getSQL(),
    { transaction, note, result, events },
  );
  // Only a writer outside these confirmations can have made the pair's row since the read: roll back.
  if (written !== subscriptionId) throw new GatewayError('GW_ERR_PAYMENT_CONFLICT', 'the subscription changed meanwhile', 'plan');
  return { result, replayed: false };
}

/** findUserName in a statement: the first name the user has, their id without one; null when there is no such user. */
const userName = (id: string) =>
  sql<string | null>`(select coalesce(u."nickname", u."fullName", u."name", u."id") from "users" u where u."id" = ${id} limit 1)`;

/** What the notification's `createdAt` default (now(), the transaction's start) stores, in its wire form. */
const NOW_TEXT = sql<string>`to_char(now()::timestamp(3), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The write of a confirmation, one statement: `primary` (the purchase or subscription upsert, returning its id), the
 * transactions row, the notification, the stored answer and the outbox events. Returns the id `primary` returned,
 * null when it wrote no row.
 */
async function writeConfirmation(
  tx: Tx,
  append: AppendEvents,
  primary: SQL,
  rows: {
    transaction: ReturnType<typeof transactionRow>;
    note: NotificationInsert;
    result: ConfirmationResult;
    events: readonly NewEvent[];
  },
): Promise<string | null> {
  const { transaction: t, note: n, result } = rows;
  const outboxRows = append.within(rows.events);
  // Values encoded as drizzle's columns encode them: timestamps as ISO strings, jsonb as JSON text.
  const written = await queryRows<OutboxRow & { primary_id: string | null }>(
    tx,
    sql`with primary_row as (${primary}),
      transaction_row as (
        insert into "transactions" ("id", "txSignature", "fromWallet", "toWallet", "amount", "currency", "type", "status", "metadata",
                                    "confirmedAt", "subscriptionId", "postPurchaseId", "senderId", "receiverId", "createdAt", "updatedAt")
        values (${t.id}, ${t.txSignature}, ${t.fromWallet}, ${t.toWallet}, ${t.amount}, ${t.currency}, ${t.type}, ${t.status}, ${json(t.metadata)},
                ${timestamp(t.confirmedAt)}, ${t.subscriptionId}, ${t.postPurchaseId}, ${t.senderId}, ${t.receiverId}, ${timestamp(t.createdAt)}, ${timestamp(t.updatedAt)})),
      notification_row as (
        insert into "notifications" ("id", "userId", "type", "title", "message", "isRead", "metadata")
        values (${n.id}, ${n.userId}, ${n.type}, ${n.title}, ${n.message}, ${n.isRead}, ${json(n.metadata)})),
      confirmation_row as (
        insert into "realtime"."payment_confirmations" ("tx_signature", "kind", "result") values (${result.txSignature}, ${result.kind}, ${json(result)})),
      ${outboxRows.ctes}
      select ${OUTBOX_ROW_COLUMNS}, (select id from primary_row) as primary_id from inserted order by inserted.id`,
  );
  outboxRows.rows(written);
  return written[0]?.primary_id ?? null;
}

/** A notification row as a confirmation writes it (`createdAt`: the column's default). */
interface NotificationInsert {
  id: string;
  userId: string;
  type: 'POST_PURCHASE' | 'NEW_SUBSCRIBER' | 'SUBSCRIPTION_PURCHASE';
  title: string;
  message: string;
  metadata: Record<string, unknown>;
  isRead: boolean;
}

/** What a purchase reads of its post. */
type PurchasedPost = Pick<ViewablePost, 'id' | 'creatorId' | 'title' | 'content' | 'type' | 'mediaUrl' | 'thumbnail' | 'price' | 'currency'>;

interface PurchaseRead extends Nullable<PurchasedPost> {
  stored: unknown;
  buyerName: string | null;
  existing: { id: string; paymentStatus: string } | null;
  nowText: string;
}

type Nullable<T> = { [K in keyof T]: T[K] | null };

const timestamp = (d: Date) => d.toISOString();
const json = (v: unknown) => JSON.stringify(v);

/** The transactions row of a confirmation. */
function transactionRow(
  c: PaymentConfirmation,
  now: Date,
  extra: {
    type: 'POST_PURCHASE' | 'SUBSCRIPTION';
    metadata: Record<string, unknown>;
    receiverId: string;
    postPurchaseId?: string;
    subscriptionId?: string;
  },
) {
  return {
    id: newId(),
    txSignature: c.txSignature,
    fromWallet: c.fromWallet ?? null,
    toWallet: c.toWallet ?? null,
    amount: c.amount,
    currency: c.currency.toUpperCase(),
    type: extra.type,
    status: 'CONFIRMED' as const,
    metadata: extra.metadata,
    confirmedAt: now,
    postPurchaseId: extra.postPurchaseId ?? null,
    subscriptionId: extra.subscriptionId ?? null,
    senderId: c.userId,
    receiverId: extra.receiverId,
    createdAt: now,
    updatedAt: now,
  };
}

/** PostgreSQL unique_violation (23505), whichever driver or wrapper raised it. */
function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}

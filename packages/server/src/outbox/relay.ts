/**
 * The outbox relay: publishes committed outbox rows to the broker, in id order, at least once.
 *
 * - Wakes on NOTIFY (the payload is only an id) and polls every `pollMs` as a fallback, so a lost
 *   notification or a relay that was down only delays delivery.
 * - One batch is one transaction: take a transaction-scoped advisory lock (only one relay of all the
 *   processes on this database works at a time, which also keeps per-channel order across processes),
 *   lock the oldest unpublished rows, hand them to the broker, mark them published, commit.
 * - If the broker rejects, the transaction rolls back and the rows stay for the next attempt
 *   (backoff up to 5 s). If the commit fails after the broker took the rows, they are published again;
 *   the gateway drops duplicates by event id.
 */
import { sql } from 'drizzle-orm';
import { encodeFrame } from '@fonana-realtime/protocol';
import type { Broker, BrokerMessage } from '../broker/broker.ts';
import { queryRows, type Database } from '../db/client.ts';
import { lockUnpublished, markPublished, OUTBOX_NOTIFY_CHANNEL, pruneOutbox, type StoredEvent } from '../db/outbox.ts';
import { IDEMPOTENCY_WINDOW_SECONDS } from '../db/publish.ts';
import type { Logger } from '../logger.ts';

/** Advisory lock key shared by every relay on one database ("fonana-rt" as bytes). */
const RELAY_LOCK_KEY = 0x666f6e61_7274;
const BATCH_SIZE = 500;
const MAX_BACKOFF_MS = 5000;
const PRUNE_EVERY_MS = 60_000;

export interface OutboxRelayOptions {
  readonly db: Database;
  readonly broker: Broker;
  readonly logger: Logger;
  readonly pollMs: number;
  readonly retentionMs: number;
  /** Called after each published batch with the number of events (metrics). */
  readonly onPublished?: (count: number, lagMs: number) => void;
}

export class OutboxRelay {
  readonly #options: OutboxRelayOptions;
  #running = false;
  #wakeRequested = false;
  #loop: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #unlisten: (() => Promise<void>) | null = null;
  #failures = 0;
  #lastPrune = 0;

  constructor(options: OutboxRelayOptions) {
    this.#options = options;
  }

  /** Starts listening and publishes whatever is already waiting. */
  async start(): Promise<void> {
    this.#running = true;
    this.#unlisten = await this.#options.db.listen(OUTBOX_NOTIFY_CHANNEL, () => this.wake());
    this.wake();
  }

  /** Asks for a pass now (coalesced with one in progress). */
  wake(): void {
    if (!this.#running) return;
    this.#wakeRequested = true;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#loop ??= this.#run().finally(() => {
      this.#loop = null;
      this.#schedule();
    });
  }

  /** Stops after the batch in progress; rows not yet published stay for the next start. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#unlisten?.();
    this.#unlisten = null;
    await this.#loop;
  }

  #schedule(): void {
    if (!this.#running) return;
    if (this.#wakeRequested) return this.wake();
    const delay = this.#failures === 0 ? this.#options.pollMs : Math.min(MAX_BACKOFF_MS, 100 * 2 ** this.#failures);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.wake();
    }, delay);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    while (this.#running && this.#wakeRequested) {
      this.#wakeRequested = false;
      try {
        let published: number;
        do {
          published = await this.publishBatch();
        } while (published === BATCH_SIZE && this.#running);
        this.#failures = 0;
        await this.#pruneNowAndThen();
      } catch (err) {
        this.#failures++;
        this.#options.logger.warn({ err, failures: this.#failures }, 'outbox relay could not publish; will retry');
        return;
      }
    }
  }

  /**
   * One batch: returns how many rows it published (0 when none waited or another relay holds the lock).
   * Exposed for tests and benchmarks.
   */
  async publishBatch(): Promise<number> {
    const { db, broker } = this.#options;
    let events: StoredEvent[] = [];
    await db.orm.transaction(async (tx) => {
      const [lock] = await queryRows<{ locked: boolean }>(tx, sql`select pg_try_advisory_xact_lock(${RELAY_LOCK_KEY}) as locked`);
      if (!lock?.locked) return;
      events = await lockUnpublished(tx, BATCH_SIZE);
      if (events.length === 0) return;
      await broker.publish(events.map(toBrokerMessage));
      await markPublished(tx, events.map((e) => e.rowId));
    });
    if (events.length > 0) this.#options.onPublished?.(events.length, Date.now() - events[0]!.ts);
    return events.length;
  }

  async #pruneNowAndThen(): Promise<void> {
    if (Date.now() - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = Date.now();
    const pruned = await this.prune();
    if (pruned > 0) this.#options.logger.info({ pruned }, 'pruned published outbox rows');
  }

  /** Deletes published rows older than the retention period (and stale publish keys); returns rows deleted. */
  async prune(): Promise<number> {
    const now = Date.now();
    return pruneOutbox(
      this.#options.db.orm,
      new Date(now - this.#options.retentionMs),
      new Date(now - IDEMPOTENCY_WINDOW_SECONDS * 1000),
    );
  }
}

/** The broker message of a stored event: its frame is encoded here, once for every node and socket. */
export function toBrokerMessage(event: StoredEvent): BrokerMessage {
  return {
    id: event.id,
    channel: event.channel,
    type: event.type,
    offset: event.offset,
    encoded: encodeFrame({
      type: event.type,
      id: event.id,
      channel: event.channel,
      offset: event.offset,
      ts: event.ts,
      data: event.data,
    }),
  };
}

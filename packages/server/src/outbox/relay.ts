/**
 * The outbox relay: publishes committed outbox rows to the broker, per channel in offset order, at least once.
 *
 * - The outbox is split into `partitions` by a stable hash of the channel (db/outbox.ts), so all rows of a
 *   channel are in one partition. One batch is one transaction on one partition: take the partition's
 *   transaction-scoped advisory lock (`pg_try_advisory_xact_lock(RELAY_LOCK_CLASS, partition)`; a relay that
 *   does not get it leaves the partition to the one that has it), lock the partition's oldest unpublished
 *   rows, hand them to the broker, mark them published, commit. Relays on several nodes therefore publish
 *   different partitions in parallel, and each channel is published by one relay at a time, in order.
 * - A relay's hold on a partition is bounded: its transaction runs with `statement_timeout` and
 *   `idle_in_transaction_session_timeout` of HOLD_MS, so PostgreSQL ends the session of a frozen or cut-off
 *   node, which releases the lock and rolls back its marks; another relay takes the partition on its next
 *   pass. A relay that finds it was stalled past PUBLISH_BY_MS since it asked for the lock gives the batch up
 *   rather than publish rows another relay may already have published. What remains is at-least-once: a
 *   relay stalled after its publish and before its commit leaves rows that are published again; the
 *   gateway drops duplicates by event id.
 * - Wakes on NOTIFY, which names the partitions of the new rows (their channel hashes), and works on only those:
 *   each partition has its own batch loop (at most MAX_PARALLEL_PARTITIONS at once), so a commit waits neither for
 *   a pass over the other partitions nor for a batch of another partition. Every `pollMs` all partitions are
 *   looked at, as a fallback: a lost notification or a relay that was down only delays delivery. A poll leaves
 *   rows younger than POLL_MIN_AGE_MS alone: rows written without a NOTIFY are being published by the node that
 *   committed them (committed-publisher.ts), and a poll between their commit and their mark would publish them
 *   twice. While it backs off after a failure (up to 5 s), notifications wait for the backoff instead of cutting
 *   it short.
 */
import { performance } from 'node:perf_hooks';
import { encodeFrame } from '@fonana-realtime/protocol';
import type { Broker, BrokerMessage } from '../broker/broker.ts';
import type { Database } from '../db/client.ts';
import {
  lockPartitionBatch,
  markPublished,
  notifiedHashes,
  OUTBOX_NOTIFY_CHANNEL,
  pruneOutbox,
  type StoredEvent,
} from '../db/outbox.ts';
import { IDEMPOTENCY_WINDOW_SECONDS } from '../db/publish.ts';
import type { Logger } from '../logger.ts';

/** First key of every partition's advisory lock (ASCII "fnrl"); the second is the partition index. */
const RELAY_LOCK_CLASS = 0x666e726c;
const BATCH_SIZE = 500;
const MAX_BACKOFF_MS = 5000;
const PRUNE_EVERY_MS = 60_000;
/** Longest a relay's transaction may run a statement or sit idle (e.g. frozen) before PostgreSQL ends it. */
export const HOLD_MS = 3000;
/** A batch not handed to the broker within this long after its partition was locked is given up. */
const PUBLISH_BY_MS = 1000;
/** Partitions one relay works on at once (each a pooled connection). */
const MAX_PARALLEL_PARTITIONS = 4;
/** Rows a poll leaves to the node that committed them (see above). */
const POLL_MIN_AGE_MS = 1000;

export interface OutboxRelayOptions {
  readonly db: Database;
  readonly broker: Broker;
  readonly logger: Logger;
  readonly pollMs: number;
  readonly retentionMs: number;
  /** OUTBOX_PARTITIONS: the same on every node. Default 1. */
  readonly partitions?: number;
  /** Called after each published batch with the number of events (metrics). */
  readonly onPublished?: (count: number, lagMs: number) => void;
}

export class OutboxRelay {
  readonly #options: OutboxRelayOptions;
  readonly #partitions: number;
  #running = false;
  /**
   * Partitions that may have rows to publish (named by a NOTIFY, or all of them at a poll), in the order to take
   * them, each with the age a row must have for its next batch (0 after a NOTIFY: every row).
   */
  readonly #due = new Map<number, number>();
  /** The batch loops running now, by partition. */
  readonly #loops = new Map<number, Promise<void>>();
  #pollTimer: NodeJS.Timeout | null = null;
  #backoffTimer: NodeJS.Timeout | null = null;
  #unlisten: (() => Promise<void>) | null = null;
  #failures = 0;
  #lastPrune = Date.now();
  #pruning: Promise<void> | null = null;
  /** Where a wake of every partition starts, turning each time, so relays of several nodes do not all queue on partition 0. */
  #firstPartition: number;

  constructor(options: OutboxRelayOptions) {
    this.#options = options;
    this.#partitions = options.partitions ?? 1;
    this.#firstPartition = Math.floor(Math.random() * this.#partitions);
  }

  /** Starts listening and publishes whatever is already waiting. */
  async start(): Promise<void> {
    this.#running = true;
    this.#unlisten = await this.#options.db.listen(OUTBOX_NOTIFY_CHANNEL, (payload) => this.#onNotify(payload));
    this.#pollTimer = setInterval(() => this.#poll(), this.#options.pollMs);
    this.#pollTimer.unref();
    this.#wakeAll(0);
  }

  /**
   * Asks for a batch of the given partitions (default: every one) now, coalesced with a batch in progress; while
   * backing off, at the end of the backoff.
   */
  wake(partitions?: Iterable<number>): void {
    if (!partitions) return this.#wakeAll(0);
    if (!this.#running) return;
    for (const p of partitions) this.#markDue(p, 0);
    this.#startLoops();
  }

  #wakeAll(minAgeMs: number): void {
    if (!this.#running) return;
    for (let i = 0; i < this.#partitions; i++) this.#markDue((this.#firstPartition + i) % this.#partitions, minAgeMs);
    this.#firstPartition = (this.#firstPartition + 1) % this.#partitions;
    this.#startLoops();
  }

  #markDue(partition: number, minAgeMs: number): void {
    const due = this.#due.get(partition);
    this.#due.set(partition, due === undefined ? minAgeMs : Math.min(due, minAgeMs));
  }

  /** Stops after the batches in progress; rows not yet published stay for the next start. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const timer of [this.#pollTimer, this.#backoffTimer]) if (timer) clearTimeout(timer);
    this.#pollTimer = this.#backoffTimer = null;
    await this.#unlisten?.();
    this.#unlisten = null;
    await Promise.all([...this.#loops.values(), this.#pruning]);
  }

  #onNotify(payload: string): void {
    const hashes = notifiedHashes(payload);
    this.wake(hashes ? hashes.map((h) => h % this.#partitions) : undefined);
  }

  #poll(): void {
    this.#wakeAll(POLL_MIN_AGE_MS);
    if (!this.#pruning && Date.now() - this.#lastPrune >= PRUNE_EVERY_MS) {
      this.#lastPrune = Date.now();
      this.#pruning = this.#pruneLogged().finally(() => (this.#pruning = null));
    }
  }

  /** Starts a batch loop for due partitions without one, up to MAX_PARALLEL_PARTITIONS; none while backing off. */
  #startLoops(): void {
    for (const partition of this.#due.keys()) {
      if (!this.#running || this.#backoffTimer || this.#loops.size >= MAX_PARALLEL_PARTITIONS) return;
      if (!this.#loops.has(partition)) this.#loops.set(partition, this.#runPartition(partition));
    }
  }

  /** Publishes one partition's batches while it is due; a wake during a batch makes it due again. */
  async #runPartition(partition: number): Promise<void> {
    let minAgeMs = 0;
    try {
      while (this.#running && !this.#backoffTimer && this.#due.has(partition)) {
        minAgeMs = this.#due.get(partition)!;
        this.#due.delete(partition);
        while ((await this.publishBatch(partition, minAgeMs)) === BATCH_SIZE && this.#running);
        this.#succeeded();
      }
    } catch (err) {
      this.#markDue(partition, minAgeMs);
      this.#failed(err);
    } finally {
      this.#loops.delete(partition);
      this.#startLoops();
    }
  }

  #succeeded(): void {
    if (this.#failures === 0) return;
    this.#options.logger.info({ failedAttempts: this.#failures }, 'outbox relay publishing again');
    this.#failures = 0;
  }

  /** One failure per backoff period counts (batches of other partitions failing with it are the same outage). */
  #failed(err: unknown): void {
    if (this.#backoffTimer || !this.#running) return;
    this.#failures++;
    // Once per outage, not per retry; the recovery is logged above.
    if (this.#failures === 1) this.#options.logger.warn({ err: errorText(err) }, 'outbox relay could not publish; retrying with backoff');
    this.#backoffTimer = setTimeout(() => {
      this.#backoffTimer = null;
      this.#startLoops();
    }, Math.min(MAX_BACKOFF_MS, 100 * 2 ** this.#failures));
    this.#backoffTimer.unref();
  }

  /**
   * One batch of one partition: returns how many rows it published (0 when none waited or another relay
   * holds the partition). Exposed for tests and benchmarks.
   */
  async publishBatch(partition = 0, minAgeMs = 0): Promise<number> {
    const { db, broker } = this.#options;
    let events: StoredEvent[] = [];
    await db.orm.transaction(async (tx) => {
      const askedAt = performance.now();
      const batch = await lockPartitionBatch(tx, { index: partition, count: this.#partitions }, {
        lockClass: RELAY_LOCK_CLASS,
        holdMs: HOLD_MS,
        limit: BATCH_SIZE,
        minAgeMs,
      });
      if (!batch || batch.length === 0) return;
      events = batch;
      // The monotonic clock runs on while the process is stopped: a relay frozen here may have lost its
      // session, and its rows may have been published by another relay since; do not publish them as new.
      const stalledMs = performance.now() - askedAt;
      if (stalledMs > PUBLISH_BY_MS) throw new Error(`outbox relay stalled ${Math.round(stalledMs)} ms holding partition ${partition}; batch given up`);
      await broker.publish(events.map(toBrokerMessage));
      await markPublished(tx, events.map((e) => e.rowId));
    });
    if (events.length > 0) this.#options.onPublished?.(events.length, Date.now() - events[0]!.ts);
    return events.length;
  }

  async #pruneLogged(): Promise<void> {
    try {
      const pruned = await this.prune();
      if (pruned > 0) this.#options.logger.info({ pruned }, 'pruned published outbox rows');
    } catch (err) {
      this.#options.logger.warn({ err: errorText(err) }, 'outbox relay could not prune published rows; trying again later');
    }
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

/** An error's message alone, for a log line. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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

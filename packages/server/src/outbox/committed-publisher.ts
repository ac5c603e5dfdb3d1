/**
 * Publishes the events a request on this node committed, right after the commit, instead of leaving them to a
 * relay's round trips (NOTIFY, then lock and select in a transaction of its own). Such rows are written without a
 * NOTIFY (`appendEvents(…, { notify: false })`), and this publisher marks them published once the broker took them.
 * This node's own sockets get the events at once too (`deliverLocally`), without waiting for the broker to echo them
 * back; the echo is then a duplicate, which the hub drops by offset.
 *
 * The relay stays the guarantee: rows this publisher could not hand over (broker down, node killed after the commit)
 * are still unpublished, and a relay's poll (`OUTBOX_POLL_MS`) publishes them. A poll that finds rows between their
 * commit and their mark publishes them a second time; every node drops the duplicate by its offset. Events of one
 * channel committed by concurrent requests may reach the broker out of offset order; a node holds an event that
 * comes early until the one before it arrives (gateway/hub.ts).
 */
import type { Broker, BrokerMessage } from '../broker/broker.ts';
import type { Database } from '../db/client.ts';
import { markPublished, type StoredEvent } from '../db/outbox.ts';
import type { Logger } from '../logger.ts';
import { errorText, toBrokerMessage } from './relay.ts';

/** Rows marked published by one UPDATE at most. */
const MARK_BATCH = 1000;

export interface CommittedPublisherOptions {
  readonly db: Database;
  readonly broker: Broker;
  readonly logger: Logger;
  /** Hands events to this node's hub, as if they had come from the broker. */
  readonly deliverLocally?: (messages: readonly BrokerMessage[]) => void;
  /** Called after each published batch with the number of events and the age of the first (metrics). */
  readonly onPublished?: (count: number, lagMs: number) => void;
}

export class CommittedPublisher {
  readonly #options: CommittedPublisherOptions;
  readonly #inFlight = new Set<Promise<void>>();
  /** Row ids handed to the broker and not yet marked published. */
  #toMark: number[] = [];
  #marking: Promise<void> | null = null;
  #publishFailing = false;
  #markFailing = false;
  #closed = false;

  constructor(options: CommittedPublisherOptions) {
    this.#options = options;
  }

  /** Hands committed events to the broker now; never throws (what fails is left to the relay). */
  readonly publish = (events: readonly StoredEvent[]): void => {
    if (events.length === 0 || this.#closed) return;
    const done = this.#publish(events);
    this.#inFlight.add(done);
    void done.finally(() => this.#inFlight.delete(done));
  };

  /** Waits for the publishes and marks in progress; later calls of `publish` are left to the relay. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#inFlight);
    await this.#marking;
  }

  async #publish(events: readonly StoredEvent[]): Promise<void> {
    const { broker, logger, onPublished, deliverLocally } = this.#options;
    const messages = events.map(toBrokerMessage);
    try {
      deliverLocally?.(messages);
    } catch (err) {
      logger.error({ err }, 'could not hand committed events to this node; they arrive through the broker');
    }
    try {
      await broker.publish(messages);
    } catch (err) {
      // Once per outage; the relay's poll publishes these rows.
      if (!this.#publishFailing) logger.warn({ err: errorText(err) }, 'could not publish committed events at once; the outbox relay will');
      this.#publishFailing = true;
      return;
    }
    if (this.#publishFailing) logger.info('publishing committed events at once again');
    this.#publishFailing = false;
    onPublished?.(events.length, Date.now() - events[0]!.ts);
    for (const event of events) this.#toMark.push(event.rowId);
    this.#marking ??= this.#markAll();
  }

  /** One UPDATE at a time, each for every row published since the previous one. */
  async #markAll(): Promise<void> {
    try {
      while (this.#toMark.length > 0) {
        const rowIds = this.#toMark.splice(0, MARK_BATCH);
        try {
          await markPublished(this.#options.db.orm, rowIds);
          this.#markFailing = false;
        } catch (err) {
          // The rows stay unpublished: a relay publishes them again, and nodes drop the duplicates.
          if (!this.#markFailing) this.#options.logger.warn({ err: errorText(err) }, 'could not mark published events; the outbox relay will publish them again');
          this.#markFailing = true;
        }
      }
    } finally {
      this.#marking = null;
    }
  }
}

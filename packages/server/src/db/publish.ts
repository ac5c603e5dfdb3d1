/** Writes API-published events to the outbox, honouring their idempotency keys. */
import { eq, sql } from 'drizzle-orm';
import { queryRows, type Orm } from './client.ts';
import { newId } from './ids.ts';
import { appendEvents, transactionWithEvents, type NewEvent, type OnCommitted, type StoredEvent } from './outbox.ts';
import { publishKeys } from './schema.ts';
import { isDatabaseUnavailable } from './unavailable.ts';

/** How long an idempotency key keeps returning the same event id. */
export const IDEMPOTENCY_WINDOW_SECONDS = 300;

/** Events committed by one statement at most. */
const MAX_GROUP = 500;

interface Waiting {
  readonly event: NewEvent;
  resolve(stored: StoredEvent): void;
  reject(err: unknown): void;
}

export interface EventPublisherOptions {
  /** Takes the events after their commit instead of waking the relays (outbox/committed-publisher.ts). */
  readonly onCommitted?: OnCommitted | undefined;
  /** Told of each group's commit while it is in flight (it settles once the group was handed to `onCommitted`). */
  readonly onCommitting?: ((commit: Promise<void>) => void) | undefined;
}

/**
 * Commits published events.
 *
 * Events without an idempotency key are committed in groups: those published in one event-loop turn go to the
 * database as one statement (`appendEvents`, committed on its own), and `onCommitted` gets them together. Under load
 * that is one round trip and one broker publish for the turn's publishes instead of one each, and their events reach
 * the sockets in one write per socket; a lone publish waits only for the end of its turn. A group the database
 * refused for a reason other than being unavailable is tried again one event at a time, so one bad event fails
 * only its own publish.
 */
export class EventPublisher {
  readonly #db: Orm;
  readonly #onCommitted: OnCommitted | undefined;
  readonly #onCommitting: ((commit: Promise<void>) => void) | undefined;
  #group: Waiting[] = [];
  #scheduled = false;

  constructor(db: Orm, options: EventPublisherOptions = {}) {
    this.#db = db;
    this.#onCommitted = options.onCommitted;
    this.#onCommitting = options.onCommitting;
  }

  /**
   * Commits one event (with its outbox row) and returns its id. With an `idempotencyKey` seen in the last
   * 5 minutes, writes nothing and returns the id of the first event (`duplicate: true`); concurrent requests
   * with the same new key are serialised by the key's row lock, so exactly one of them writes.
   */
  async publish(event: Omit<NewEvent, 'id'>, idempotencyKey?: string): Promise<{ id: string; duplicate: boolean }> {
    if (idempotencyKey === undefined) return { id: (await this.#grouped(event)).id, duplicate: false };
    // The key's claim and the event commit together: a failure leaves the key free for the retry.
    return transactionWithEvents(this.#db, this.#onCommitted, async (tx, append) => {
      const id = newId();
      const claimed = await queryRows<{ event_id: string }>(
        tx,
        sql`insert into realtime.publish_keys (key, event_id) values (${idempotencyKey}, ${id})
            on conflict (key) do update set event_id = excluded.event_id, created_at = now()
            where realtime.publish_keys.created_at < now() - make_interval(secs => ${IDEMPOTENCY_WINDOW_SECONDS})
            returning event_id`,
      );
      if (claimed.length === 0) {
        const [existing] = await tx
          .select({ eventId: publishKeys.eventId })
          .from(publishKeys)
          .where(eq(publishKeys.key, idempotencyKey));
        return { id: existing!.eventId, duplicate: true };
      }
      await append([{ ...event, id }]);
      return { id, duplicate: false };
    });
  }

  /** hot path: the event joins this turn's group. */
  #grouped(event: NewEvent): Promise<StoredEvent> {
    return new Promise((resolve, reject) => {
      this.#group.push({ event, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const group = this.#group;
    this.#group = [];
    for (let i = 0; i < group.length; i += MAX_GROUP) {
      const commit = this.#commit(group.slice(i, i + MAX_GROUP));
      this.#onCommitting?.(commit);
    }
  }

  async #commit(group: readonly Waiting[]): Promise<void> {
    let stored: StoredEvent[];
    try {
      // One statement, committed on its own: no transaction held open across round trips.
      stored = await appendEvents(this.#db, group.map((w) => w.event), { notify: !this.#onCommitted });
    } catch (err) {
      if (group.length === 1 || isDatabaseUnavailable(err)) {
        for (const w of group) w.reject(err);
      } else {
        // Settles once every retry did, so the group's commit stays in flight (onCommitting) until then.
        await Promise.all(group.map((w) => this.#commit([w])));
      }
      return;
    }
    this.#onCommitted?.(stored);
    group.forEach((w, i) => w.resolve(stored[i]!));
  }
}

/** Writes an API-published event to the outbox, honouring its idempotency key. */
import { eq, sql } from 'drizzle-orm';
import { queryRows, type Orm } from './client.ts';
import { newId } from './ids.ts';
import { appendEvents, transactionWithEvents, type NewEvent, type OnCommitted } from './outbox.ts';
import { publishKeys } from './schema.ts';

/** How long an idempotency key keeps returning the same event id. */
export const IDEMPOTENCY_WINDOW_SECONDS = 300;

/**
 * Commits one event (with its outbox row) and returns its id. With an `idempotencyKey` seen in the last
 * 5 minutes, writes nothing and returns the id of the first event (`duplicate: true`); concurrent requests
 * with the same new key are serialised by the key's row lock, so exactly one of them writes. With `onCommitted`, the
 * event is handed to it after the commit instead of waking the relays (outbox/committed-publisher.ts).
 */
export async function publishEvent(
  db: Orm,
  event: Omit<NewEvent, 'id'>,
  idempotencyKey?: string,
  onCommitted?: OnCommitted,
): Promise<{ id: string; duplicate: boolean }> {
  if (idempotencyKey === undefined) {
    // One statement, committed on its own: no transaction held open across round trips.
    const stored = await appendEvents(db, [event], { notify: !onCommitted });
    onCommitted?.(stored);
    return { id: stored[0]!.id, duplicate: false };
  }
  // The key's claim and the event commit together: a failure leaves the key free for the retry.
  return transactionWithEvents(db, onCommitted, async (tx, append) => {
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

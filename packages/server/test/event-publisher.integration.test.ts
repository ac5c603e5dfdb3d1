/**
 * Publishes without an idempotency key are committed in groups: those of one event-loop turn in one statement,
 * handed to `onCommitted` together; a bad event fails only its own publish.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client.ts';
import type { StoredEvent } from '../src/db/outbox.ts';
import { EventPublisher } from '../src/db/publish.ts';
import { createTestDatabase } from './helpers/database.ts';

test("the publishes of one turn commit together, in call order, and reach onCommitted as one group", async (t) => {
  const { db } = await createTestDatabase(t);
  const groups: StoredEvent[][] = [];
  const publisher = new EventPublisher(db.orm, { onCommitted: (events) => groups.push([...events]) });

  const first = await Promise.all(
    [1, 2, 3, 4, 5].map((n) => publisher.publish({ channel: n % 2 ? 'creator_a' : 'creator_b', type: 'grouped', data: { n } })),
  );
  const later = await publisher.publish({ channel: 'creator_a', type: 'grouped', data: { n: 6 } });

  assert.equal(groups.length, 2, 'one group for the turn, one for the later publish');
  assert.deepEqual(groups[0]!.map((e) => e.id), first.map((r) => r.id));
  assert.deepEqual(groups[0]!.map((e) => (e.data as { n: number }).n), [1, 2, 3, 4, 5]);
  assert.deepEqual(groups[0]!.map((e) => `${e.channel}@${e.offset}`), ['creator_a@1', 'creator_b@1', 'creator_a@2', 'creator_b@2', 'creator_a@3']);
  assert.deepEqual(groups[1]!.map((e) => `${e.channel}@${e.offset}`), ['creator_a@4']);
  assert.equal(groups[1]![0]!.id, later.id);
  assert.ok(first.every((r) => r.duplicate === false) && later.duplicate === false);

  // Every event is in the outbox once, written without a NOTIFY for the relays (onCommitted publishes them).
  const [row] = await queryRows<{ n: string | number }>(db.orm, sql`select count(*) as n from realtime.outbox where type = 'grouped'`);
  assert.equal(Number(row!.n), 6);
});

test('an event the database refuses fails its own publish only; the others of its turn commit', async (t) => {
  const { db } = await createTestDatabase(t);
  const groups: StoredEvent[][] = [];
  const publisher = new EventPublisher(db.orm, { onCommitted: (events) => groups.push([...events]) });

  const results = await Promise.allSettled([
    publisher.publish({ channel: 'creator_a', type: 'fine', data: { n: 1 } }),
    // jsonb has no place for U+0000: PostgreSQL refuses the row.
    publisher.publish({ channel: 'creator_a', type: 'refused', data: { text: 'nul \u0000 here' } }),
    publisher.publish({ channel: 'creator_a', type: 'fine', data: { n: 2 } }),
  ]);

  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  const stored = await queryRows<{ type: string; offset: string | number }>(
    db.orm,
    sql`select type, "offset" from realtime.outbox where channel = 'creator_a' order by "offset"`,
  );
  assert.deepEqual(stored.map((r) => `${r.type}@${Number(r.offset)}`), ['fine@1', 'fine@2']);
  assert.deepEqual(groups.flat().map((e) => (e.data as { n: number }).n).sort(), [1, 2]);
});

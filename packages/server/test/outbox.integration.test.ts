import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import type { Broker, BrokerMessage } from '../src/broker/broker.ts';
import { openDatabase, queryRows, type Database } from '../src/db/client.ts';
import { appendEvents } from '../src/db/outbox.ts';
import { createLogger } from '../src/logger.ts';
import { OutboxRelay } from '../src/outbox/relay.ts';
import { createTestDatabase } from './helpers/database.ts';

/** A broker that records what it was given and can be told to refuse. */
class RecordingBroker implements Broker {
  readonly published: BrokerMessage[] = [];
  refuse = 0;
  async publish(messages: readonly BrokerMessage[]): Promise<void> {
    if (this.refuse > 0) {
      this.refuse--;
      throw new Error('broker down');
    }
    this.published.push(...messages);
  }
  async subscribe(): Promise<void> {}
  isHealthy() {
    return true;
  }
  async close() {}
}

const logger = createLogger('silent');
const relayFor = (db: Database, broker: Broker, pollMs = 50) =>
  new OutboxRelay({ db, broker, logger, pollMs, retentionMs: 3600_000 });

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function commit(db: Database, events: { channel: string; type: string; data: unknown }[]) {
  return db.orm.transaction((tx) => appendEvents(tx, events));
}

test('an event committed while the relay is down is delivered once after it starts', async (t) => {
  const { db } = await createTestDatabase(t);
  const broker = new RecordingBroker();
  const [stored] = await commit(db, [{ channel: 'user_u1', type: 'hello', data: { n: 1 } }]);
  const relay = relayFor(db, broker);
  await relay.start();
  await until(() => broker.published.length === 1);
  await relay.stop();
  const message = broker.published[0]!;
  assert.equal(message.id, stored!.id);
  assert.deepEqual(JSON.parse(message.encoded), { type: 'hello', id: stored!.id, channel: 'user_u1', offset: 1, ts: stored!.ts, data: { n: 1 } });

  const again = relayFor(db, broker);
  await again.start();
  await new Promise((r) => setTimeout(r, 200));
  await again.stop();
  assert.equal(broker.published.length, 1, 'a restarted relay does not publish it again');
});

test('a rolled-back transaction publishes nothing; the broker refusing keeps the rows for later', async (t) => {
  const { db } = await createTestDatabase(t);
  const broker = new RecordingBroker();
  await assert.rejects(
    db.orm.transaction(async (tx) => {
      await appendEvents(tx, [{ channel: 'user_u1', type: 'ghost', data: null }]);
      throw new Error('the business change failed');
    }),
  );
  broker.refuse = 2;
  await commit(db, [{ channel: 'user_u1', type: 'real', data: null }]);
  const relay = relayFor(db, broker, 30);
  await relay.start();
  await until(() => broker.published.length === 1);
  await relay.stop();
  assert.deepEqual(broker.published.map((m) => m.type), ['real']);
  assert.equal(broker.refuse, 0, 'it was refused twice before it went through');
});

test('offsets count up per channel in commit order, and the relay keeps that order', async (t) => {
  const { db } = await createTestDatabase(t);
  const broker = new RecordingBroker();
  const relay = relayFor(db, broker);
  await relay.start();
  const channels = ['post_a', 'post_b', 'user_c'];
  await Promise.all(
    Array.from({ length: 60 }, (_, i) => commit(db, [{ channel: channels[i % 3]!, type: 'e', data: { i } }, { channel: 'user_c', type: 'e', data: { i } }])),
  );
  await until(() => broker.published.length === 120);
  await relay.stop();
  for (const channel of channels) {
    const offsets = broker.published.filter((m) => m.channel === channel).map((m) => m.offset);
    assert.deepEqual(offsets, offsets.map((_, i) => i + 1), channel);
  }
});

test('two relays on one database never publish a row twice', async (t) => {
  const { db, url } = await createTestDatabase(t);
  const second = url ? await openDatabase({ url }) : db;
  if (second !== db) t.after(() => second.close());
  const broker = new RecordingBroker();
  const relays = [relayFor(db, broker, 10), relayFor(second, broker, 10)];
  await Promise.all(relays.map((r) => r.start()));
  const writers = Array.from({ length: 4 }, (_, w) =>
    (async () => {
      for (let i = 0; i < 50; i++) await commit(w % 2 ? second : db, [{ channel: `user_w${w}`, type: 'e', data: { i } }]);
    })(),
  );
  await Promise.all(writers);
  await until(() => broker.published.length >= 200);
  await new Promise((r) => setTimeout(r, 200));
  await Promise.all(relays.map((r) => r.stop()));
  const ids = broker.published.map((m) => m.id);
  assert.equal(ids.length, 200);
  assert.equal(new Set(ids).size, 200, 'every row exactly once');
  for (let w = 0; w < 4; w++) {
    const offsets = broker.published.filter((m) => m.channel === `user_w${w}`).map((m) => m.offset);
    assert.deepEqual(offsets, offsets.map((_, i) => i + 1), `order of user_w${w}`);
  }
  const [left] = await queryRows<{ n: string | number }>(db.orm, sql`select count(*) as n from realtime.outbox where published_at is null`);
  assert.equal(Number(left!.n), 0);
});

test('published rows are pruned after the retention period, unpublished ones never', async (t) => {
  const { db } = await createTestDatabase(t);
  const broker = new RecordingBroker();
  await commit(db, [{ channel: 'user_u1', type: 'old', data: null }]);
  const relay = new OutboxRelay({ db, broker, logger, pollMs: 60_000, retentionMs: 50 });
  assert.equal(await relay.publishBatch(), 1);
  await commit(db, [{ channel: 'user_u1', type: 'waiting', data: null }]);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(await relay.prune(), 1);
  const rows = await queryRows<{ type: string }>(db.orm, sql`select type from realtime.outbox order by id`);
  assert.deepEqual(rows.map((r) => r.type), ['waiting']);
});

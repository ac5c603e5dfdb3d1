import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import type { Broker, BrokerMessage } from '../src/broker/broker.ts';
import { openDatabase, queryRows, type Database } from '../src/db/client.ts';
import { appendEvents, channelHash, channelPartition, notifiedHashes } from '../src/db/outbox.ts';
import { createLogger } from '../src/logger.ts';
import { OutboxRelay } from '../src/outbox/relay.ts';
import { createTestDatabase } from './helpers/database.ts';

/** A broker that records what it was given and can be told to refuse. */
class RecordingBroker implements Broker {
  readonly published: BrokerMessage[] = [];
  refuse = 0;
  attempts = 0;
  async publish(messages: readonly BrokerMessage[]): Promise<void> {
    this.attempts++;
    if (this.refuse > 0) {
      this.refuse--;
      throw new Error('broker down');
    }
    this.published.push(...messages);
  }
  async subscribe(): Promise<void> {}
  async addChannels(): Promise<void> {}
  async removeChannels(): Promise<void> {}
  isHealthy() {
    return true;
  }
  async close() {}
}

const logger = createLogger('silent');
const relayFor = (db: Database, broker: Broker, pollMs = 50, partitions = 1) =>
  new OutboxRelay({ db, broker, logger, pollMs, retentionMs: 3600_000, partitions });

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

test('the stored channel hash is the one JavaScript computes; partitions spread channels', async (t) => {
  const { db } = await createTestDatabase(t);
  const channels = ['user_u1', 'post_a', 'creator_ü', 'feed_😀', ''];
  await commit(db, channels.map((channel) => ({ channel, type: 'e', data: null })));
  const rows = await queryRows<{ channel: string; channel_hash: number }>(db.orm, sql`select channel, channel_hash from realtime.outbox order by id`);
  assert.deepEqual(
    rows.map((r) => [r.channel, Number(r.channel_hash)]),
    channels.map((c) => [c, channelHash(c)]),
  );
  const used = new Set(Array.from({ length: 200 }, (_, i) => channelPartition(`post_${i}`, 8)));
  assert.deepEqual([...used].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('two relays with 8 partitions publish every row once, each channel in offset order', async (t) => {
  const { db, url } = await createTestDatabase(t);
  const second = url ? await openDatabase({ url }) : db;
  if (second !== db) t.after(() => second.close());
  // One shared log in publish-call order, and each relay's own count.
  const log: BrokerMessage[] = [];
  const brokers = [new RecordingBroker(), new RecordingBroker()];
  for (const broker of brokers) broker.published.push = (...m: BrokerMessage[]) => log.push(...m);
  const relays = [relayFor(db, brokers[0]!, 20, 8), relayFor(second, brokers[1]!, 20, 8)];
  await Promise.all(relays.map((r) => r.start()));
  const channels = Array.from({ length: 16 }, (_, i) => `post_p${i}`);
  const writers = Array.from({ length: 4 }, (_, w) =>
    (async () => {
      for (let i = 0; i < 40; i++) {
        const batch = [channels[(w * 40 + i) % 16]!, channels[(w * 7 + i) % 16]!].map((channel) => ({ channel, type: 'e', data: { w, i } }));
        await commit(w % 2 ? second : db, batch);
      }
    })(),
  );
  await Promise.all(writers);
  await until(() => log.length >= 320, 20_000);
  await Promise.all(relays.map((r) => r.stop()));
  assert.equal(log.length, 320);
  assert.equal(new Set(log.map((m) => m.id)).size, 320, 'every row exactly once');
  for (const channel of channels) {
    const offsets = log.filter((m) => m.channel === channel).map((m) => m.offset);
    assert.deepEqual(offsets, offsets.map((_, i) => i + 1), `order of ${channel}`);
  }
  // On PostgreSQL both relays take partitions. Two relays on one embedded database share one PGlite instance, which
  // runs one transaction at a time in the order they were asked for: which relay publishes is then up to scheduling.
  if (url) assert.ok(brokers.every((b) => b.attempts > 0), 'both relays published');
});

test('the backoff holds while the broker refuses, however many notifications arrive', async (t) => {
  const { db } = await createTestDatabase(t);
  const broker = new RecordingBroker();
  broker.refuse = 1_000_000;
  const relay = relayFor(db, broker, 30);
  await relay.start();
  await commit(db, [{ channel: 'user_u1', type: 'e', data: null }]);
  // 1.5 s of notifications every 10 ms: the backoff (200, 400, 800 ms …) decides the attempts, not they.
  const stopAt = Date.now() + 1500;
  let notifications = 0;
  while (Date.now() < stopAt) {
    await db.orm.execute(sql`select pg_notify('realtime_outbox', '1')`);
    notifications++;
    await new Promise((r) => setTimeout(r, 10));
  }
  const attempts = broker.attempts;
  broker.refuse = 0;
  await until(() => broker.published.length === 1, 10_000);
  await relay.stop();
  assert.ok(notifications >= 10, `${notifications} notifications`);
  assert.ok(attempts < notifications, `${attempts} attempts for ${notifications} notifications`);
  assert.ok(attempts >= 2 && attempts <= 6, `${attempts} attempts in 1.5 s`);
});

test('a commit wakes only the partitions of its channels; one of 800 channels (a payload too long for hashes) wakes them all', async (t) => {
  const { db } = await createTestDatabase(t);
  const broker = new RecordingBroker();
  const relay = relayFor(db, broker, 600_000, 8); // no poll during the test: only notifications wake it
  const batches: number[] = [];
  const publishBatch = relay.publishBatch.bind(relay);
  relay.publishBatch = (partition = 0) => (batches.push(partition), publishBatch(partition));
  await relay.start();
  await until(() => batches.length >= 8); // the start looks at every partition once
  await new Promise((r) => setTimeout(r, 200));
  batches.length = 0;

  await commit(db, [{ channel: 'post_one', type: 'e', data: null }]);
  await until(() => broker.published.length === 1);
  assert.deepEqual([...new Set(batches)], [channelPartition('post_one', 8)]);

  batches.length = 0;
  const many = Array.from({ length: 800 }, (_, i) => ({ channel: `post_many_${i}`, type: 'e', data: null }));
  await commit(db, many);
  await until(() => broker.published.length === 801);
  await relay.stop();
  assert.deepEqual([...new Set(batches)].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(notifiedHashes('h:12,7'), [12, 7]);
  assert.equal(notifiedHashes('1234'), null);
  assert.equal(notifiedHashes('h:x'), null);
});

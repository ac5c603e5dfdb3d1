/**
 * The behaviour every Broker implementation must show, as node:test tests. Run it once per implementation
 * (test/broker.test.ts), the way centrifuge runs its broker order tests against memory and Redis.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { Broker, BrokerMessage } from '../src/broker/broker.ts';

/** What a factory needs to make one node of a cluster. */
export interface BrokerNode {
  /** Brokers made with the same cluster name reach each other (Redis: one prefix); every test uses a fresh one. */
  cluster: string;
  /** Pass to the broker; the suite checks that it is called exactly when a test expects it. */
  onError: (err: Error) => void;
}

/** Makes one node's broker. The suite closes every broker it made. */
export type BrokerFactory = (node: BrokerNode) => Promise<Broker> | Broker;

/** Registers the contract tests for one implementation under `name`. */
export function brokerContract(name: string, makeBroker: BrokerFactory): void {
  test(`${name}: a subscriber receives exactly what was published, byte-identical`, async (t) => {
    const cluster = makeCluster(t, makeBroker);
    const broker = await cluster.node();
    const inbox = await subscribed(broker);
    const sent = [
      message('a', 'post_1', 1, { hello: 'world' }),
      message('b', 'post_1', 2, { nested: { list: [1, 2, 3] }, empty: '' }),
      message('c', 'user_42', 1, null),
    ];
    await broker.publish(sent);
    await broker.publish([]);
    await broker.publish([message('d', 'post_1', 3, 'single')]);
    // A sentinel published last arrives last: anything extra would show up before it.
    await broker.publish([message('sentinel', 'post_1', 4, 0)]);
    const got = await inbox.next(5);
    assert.deepEqual(got, [...sent, message('d', 'post_1', 3, 'single'), message('sentinel', 'post_1', 4, 0)]);
    assert.equal(got[0]!.encoded, sent[0]!.encoded);
    cluster.assertNoErrors();
  });

  test(`${name}: 1,000 messages on one channel arrive in publish order`, async (t) => {
    const cluster = makeCluster(t, makeBroker);
    const broker = await cluster.node();
    const inbox = await subscribed(broker);
    const all = Array.from({ length: 1000 }, (_, i) => message(`m${i + 1}`, 'creator_7', i + 1, { i }));
    // Half as single-message calls issued without waiting, half as batches of 100.
    const pending = all.slice(0, 500).map((m) => broker.publish([m]));
    for (let i = 500; i < 1000; i += 100) pending.push(broker.publish(all.slice(i, i + 100)));
    await Promise.all(pending);
    const got = await inbox.next(1000);
    assert.deepEqual(
      got.map((m) => m.offset),
      all.map((m) => m.offset),
    );
    assert.deepEqual(got, all);
    cluster.assertNoErrors();
  });

  test(`${name}: two nodes both receive what one of them published`, async (t) => {
    const cluster = makeCluster(t, makeBroker);
    const [a, b] = [await cluster.node(), await cluster.node()];
    const [inboxA, inboxB] = [await subscribed(a), await subscribed(b)];
    const fromA = message('from-a', 'post_9', 1, { by: 'a' });
    const fromB = message('from-b', 'post_9', 2, { by: 'b' });
    await a.publish([fromA]);
    assert.deepEqual(await inboxA.next(1), [fromA]);
    assert.deepEqual(await inboxB.next(1), [fromA]);
    await b.publish([fromB]);
    assert.deepEqual(await inboxA.next(1), [fromB]);
    assert.deepEqual(await inboxB.next(1), [fromB]);
    cluster.assertNoErrors();
  });

  test(`${name}: every handler of a node receives each message; a throwing one is reported and skipped`, async (t) => {
    const cluster = makeCluster(t, makeBroker);
    const broker = await cluster.node();
    await broker.subscribe(() => {
      throw new Error('faulty handler');
    });
    const inbox = await subscribed(broker);
    const sent = [message('x1', 'post_1', 1, 1), message('x2', 'post_1', 2, 2)];
    await broker.publish(sent);
    assert.deepEqual(await inbox.next(2), sent);
    assert.deepEqual(
      cluster.errors.map((e) => e.message),
      ['faulty handler', 'faulty handler'],
    );
    cluster.errors.length = 0;
  });

  test(`${name}: publish and subscribe reject after close; close is idempotent`, async (t) => {
    const cluster = makeCluster(t, makeBroker);
    const broker = await cluster.node();
    await subscribed(broker);
    await broker.publish([message('before', 'post_1', 1, 1)]);
    await Promise.all([broker.close(), broker.close()]);
    await broker.close();
    assert.equal(broker.isHealthy(), false);
    await assert.rejects(broker.publish([message('after', 'post_1', 2, 2)]), /closed/);
    await assert.rejects(broker.subscribe(() => {}), /closed/);
    cluster.assertNoErrors();
  });

  test(`${name}: unicode and 256 KiB frames arrive byte-identical`, async (t) => {
    const cluster = makeCluster(t, makeBroker);
    const [a, b] = [await cluster.node(), await cluster.node()];
    const [inboxA, inboxB] = [await subscribed(a), await subscribed(b)];
    const unicode = message('ü-идентификатор-🔑', 'post_ß', 1, {
      text: 'héllo wörld — 你好 — مرحبا — 🙂👍🏽 — \u2028\u2029 — "quoted" \\ back\nslash',
    });
    // A frame is normally JSON, but the broker must not care: raw newlines, a leading header-like line.
    const raw: BrokerMessage = { id: 'raw', channel: 'post_ß', type: 'notification', offset: 2, encoded: '[1,"x","y","z",1]\n{"a":\n1}\n' };
    const large = message('large', 'post_ß', 3, { blob: bigText(256 * 1024) });
    assert.ok(Buffer.byteLength(large.encoded) > 256 * 1024);
    await a.publish([unicode, raw, large]);
    for (const inbox of [inboxA, inboxB]) {
      const got = await inbox.next(3);
      assert.deepEqual(got, [unicode, raw, large]);
      assert.equal(Buffer.compare(Buffer.from(got[2]!.encoded), Buffer.from(large.encoded)), 0);
    }
    cluster.assertNoErrors();
  });

  test(`${name}: a node receives only the channels it added, from when it added them until it removed them`, async (t) => {
    const cluster = makeCluster(t, makeBroker);
    const [a, b] = [await cluster.node(), await cluster.node()];
    const [inboxA, inboxB] = [await subscribed(a, ['post_a']), await subscribed(b, ['post_b'])];
    const toA = message('to-a', 'post_a', 1, 'a');
    const toB = message('to-b', 'post_b', 1, 'b');
    const toNobody = message('to-nobody', 'post_c', 1, 'c');
    await a.publish([toNobody, toA, toB]);
    // Each node's next message is its own: the other channels never reached it.
    assert.deepEqual(await inboxA.next(1), [toA]);
    assert.deepEqual(await inboxB.next(1), [toB]);

    await b.addChannels(['post_a', 'post_a']);
    const second = message('to-a-2', 'post_a', 2, 'a');
    await a.publish([second]);
    assert.deepEqual(await inboxA.next(1), [second]);
    assert.deepEqual(await inboxB.next(1), [second]);

    await b.removeChannels(['post_a']);
    const third = message('to-a-3', 'post_a', 3, 'a');
    const sentinelB = message('sentinel-b', 'post_b', 2, 'b');
    await a.publish([third, sentinelB]);
    assert.deepEqual(await inboxA.next(1), [third]);
    assert.deepEqual(await inboxB.next(1), [sentinelB], 'post_a no longer reaches b');
    cluster.assertNoErrors();
  });

  test(`${name}: 2,500 channels added at once are all routed; added and removed in one turn ends removed`, async (t) => {
    const cluster = makeCluster(t, makeBroker);
    const broker = await cluster.node();
    const channels = Array.from({ length: 2500 }, (_, i) => `user_${i}`);
    const inbox = await subscribed(broker, []);
    await Promise.all([broker.addChannels(channels.slice(0, 1000)), broker.addChannels(channels.slice(1000))]);
    await Promise.all([broker.addChannels(['post_gone']), broker.removeChannels(['post_gone'])]);
    const sent = [0, 999, 1000, 2499].map((i) => message(`m${i}`, channels[i]!, 1, i));
    await broker.publish([message('gone', 'post_gone', 1, 0), ...sent]);
    assert.deepEqual(await inbox.next(4), sent);
    await broker.removeChannels(channels);
    const last = message('last', 'post_last', 1, 0);
    await broker.addChannels(['post_last']);
    await broker.publish([message('after-remove', 'user_0', 2, 0), last]);
    assert.deepEqual(await inbox.next(1), [last]);
    cluster.assertNoErrors();
  });

  test(`${name}: healthy once subscribed`, async (t) => {
    const cluster = makeCluster(t, makeBroker);
    const broker = await cluster.node();
    await subscribed(broker);
    // The publisher connects alongside the subscription, so health may follow a moment after it.
    await until(() => broker.isHealthy(), 'broker to become healthy');
    cluster.assertNoErrors();
  });
}

/** An event frame as the relay encodes it. */
export function message(id: string, channel: string, offset: number, data: unknown): BrokerMessage {
  const type = 'notification';
  return { id, channel, type, offset, encoded: JSON.stringify({ type, id, channel, offset, ts: 1_700_000_000_000 + offset, data }) };
}

/** Messages a broker delivered, awaited in arrival order. */
export interface Inbox {
  /** The next `count` messages, in arrival order; fails after 10 s. */
  next(count: number): Promise<BrokerMessage[]>;
}

/** The channels the suite publishes on; `subscribed` routes them all to the node unless told otherwise. */
const TEST_CHANNELS = ['post_1', 'post_9', 'post_ß', 'user_42', 'creator_7'];

/** Subscribes a handler that collects messages, with `channels` routed to the node. */
export async function subscribed(broker: Broker, channels: readonly string[] = TEST_CHANNELS): Promise<Inbox> {
  const received: BrokerMessage[] = [];
  let wake: (() => void) | null = null;
  await broker.subscribe((m) => {
    received.push(m);
    wake?.();
  });
  await broker.addChannels(channels);
  let taken = 0;
  return {
    async next(count) {
      const deadline = Date.now() + 10_000;
      while (received.length < taken + count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} message(s), got ${received.length - taken}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
      const batch = received.slice(taken, taken + count);
      taken += count;
      return batch;
    },
  };
}

/** Polls `condition` every 10 ms; fails after 10 s. */
export async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Cluster {
  node(): Promise<Broker>;
  readonly errors: Error[];
  assertNoErrors(): void;
}

function makeCluster(t: { after(fn: () => Promise<void>): void }, makeBroker: BrokerFactory): Cluster {
  const name = randomUUID();
  const brokers: Broker[] = [];
  const errors: Error[] = [];
  const onError = (err: Error): void => {
    errors.push(err);
  };
  t.after(async () => {
    await Promise.all(brokers.map((b) => b.close()));
  });
  return {
    errors,
    async node() {
      const broker = await makeBroker({ cluster: name, onError });
      brokers.push(broker);
      return broker;
    },
    assertNoErrors() {
      assert.deepEqual(errors.map((e) => e.message), []);
    },
  };
}

/** Mixed one-, two-, three- and four-byte characters, `length` UTF-16 units long. */
function bigText(length: number): string {
  const unit = 'aé€😀<>&"\\\n\t';
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

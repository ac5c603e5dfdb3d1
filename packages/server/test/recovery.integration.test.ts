/**
 * History and recovery over real sockets: `since` on subscribe and auth, the never-partial rule (a gap over the cap, a
 * pruned offset, a stale epoch), recovery after the gateway restarted, and the node's own gap fill.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import type { Database } from '../src/db/client.ts';
import { appendEvents } from '../src/db/outbox.ts';
import { toBrokerMessage } from '../src/outbox/relay.ts';
import { createTestDatabase } from './helpers/database.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { TestClient, type Frame } from './helpers/ws-client.ts';

const CHANNEL = 'post_demo-post-free';

async function publish(gw: TestGateway, n: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await gw.api('/v1/publish', { channel: 'post:demo-post-free', type: 'tick', data: { label, i } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    ids.push(res.body.id as string);
  }
  return ids;
}

/** Commits `n` events on a channel in one transaction (fast, for long gaps); returns their ids in order. */
async function commit(db: Database, channel: string, n: number): Promise<string[]> {
  const stored = await db.orm.transaction((tx) =>
    appendEvents(tx, Array.from({ length: n }, (_, i) => ({ channel, type: 'tick', data: { bulk: i } }))),
  );
  return stored.map((e) => e.id);
}

/** The next `n` event frames of type `tick`, in arrival order. */
async function ticks(client: TestClient, n: number): Promise<Frame[]> {
  const got: Frame[] = [];
  for (let i = 0; i < n; i++) got.push(await client.next('tick'));
  return got;
}

async function subscribe(client: TestClient, since?: { offset: number; epoch: string }): Promise<Frame> {
  client.send({ type: 'subscribe', channel: 'post:demo-post-free', ...(since ? { since } : {}) });
  return client.next((f) => f.type === 'subscribed' || f.type === 'error');
}

test('subscribe with since: recovered, the missed events in order, then live ones; nothing repeated', async (t) => {
  const gw = await startGateway(t);
  const first = await gw.connect('demo-fan-basic');
  const subscribed = await subscribe(first);
  assert.equal(subscribed.data.channelKey, CHANNEL);
  assert.equal(subscribed.data.offset, 0, 'a channel without events starts at 0');
  assert.equal(typeof subscribed.data.epoch, 'string');
  assert.equal(subscribed.data.recovered, undefined, 'no since, no recovered');
  const epoch = subscribed.data.epoch as string;

  await publish(gw, 3, 'before');
  const seen = await ticks(first, 3);
  assert.deepEqual(seen.map((f) => f.offset), [1, 2, 3]);
  first.close();
  await first.closed;

  const missed = await publish(gw, 5, 'missed');
  const again = await gw.connect('demo-fan-basic');
  const resumed = await subscribe(again, { offset: 3, epoch });
  assert.equal(resumed.data.recovered, true);
  assert.equal(resumed.data.epoch, epoch);
  assert.equal(resumed.data.offset, 8);
  const replay = await ticks(again, 5);
  assert.deepEqual(replay.map((f) => f.id), missed);
  assert.deepEqual(replay.map((f) => f.offset), [4, 5, 6, 7, 8]);

  const live = await publish(gw, 2, 'live');
  assert.deepEqual((await ticks(again, 2)).map((f) => f.id), live);
  assert.deepEqual(await again.none('tick', 200), [], 'nothing repeated');

  // Already up to date: recovered with nothing to replay.
  const third = await gw.connect('demo-fan-basic');
  const current = await subscribe(third, { offset: 10, epoch });
  assert.equal(current.data.recovered, true);
  assert.equal(current.data.offset, 10);
  assert.deepEqual(await third.none('tick', 200), []);
});

test('auth with since recovers the user channel; connected carries its position; the own user channel can be resubscribed', async (t) => {
  const gw = await startGateway(t);
  const first = await TestClient.open(`${gw.wsUrl}?token=${await gw.token('demo-fan-none')}`);
  const connected = await first.next('connected');
  assert.equal(connected.data.channel, 'user_demo-fan-none');
  assert.equal(connected.data.offset, 0);
  assert.equal(connected.data.recovered, undefined);
  const epoch = connected.data.epoch as string;
  await gw.api('/v1/publish', { userId: 'demo-fan-none', type: 'tick', data: { n: 1 } });
  const one = await first.next('tick');
  assert.equal(one.channel, 'user_demo-fan-none');
  first.close();
  await first.closed;
  const missed = [];
  for (let i = 2; i <= 4; i++) missed.push((await gw.api('/v1/publish', { userId: 'demo-fan-none', type: 'tick', data: { n: i } })).body.id);

  const again = await TestClient.open(gw.wsUrl);
  t.after(() => again.close());
  again.send({ type: 'auth', token: await gw.token('demo-fan-none'), since: { offset: one.offset, epoch } });
  const hello = await again.next('connected');
  assert.equal(hello.data.channel, 'user_demo-fan-none');
  assert.equal(hello.data.epoch, epoch);
  assert.equal(hello.data.offset, 4);
  assert.equal(hello.data.recovered, true);
  assert.deepEqual((await ticks(again, 3)).map((f) => f.id), missed);

  // Resubscribing the own channel with since replays again from there; another user's is forbidden.
  again.send({ type: 'subscribe', channel: { type: 'user', userId: 'demo-fan-none' }, since: { offset: 2, epoch } });
  const resub = await again.next('subscribed');
  assert.deepEqual(resub.data, { channel: { type: 'user', userId: 'demo-fan-none' }, channelKey: 'user_demo-fan-none', offset: 4, epoch, recovered: true });
  assert.deepEqual((await ticks(again, 2)).map((f) => f.id), missed.slice(1));
  again.send({ type: 'subscribe', channel: 'user:demo-fan-vip' });
  assert.equal((await again.next('error')).data.code, 'GW_ERR_CHANNEL_FORBIDDEN');
  const live = (await gw.api('/v1/publish', { userId: 'demo-fan-none', type: 'tick', data: { n: 5 } })).body.id;
  assert.equal((await again.next('tick')).id, live);
  assert.deepEqual(await again.none('tick', 200), [], 'the resubscription did not double the live stream');
});

test('a gap over RECOVERY_MAX_EVENTS (300), a stale epoch, a pruned offset: recovered false and no event of the gap', async (t) => {
  const gw = await startGateway(t, { env: { HISTORY_CACHE_EVENTS: '0' } });
  const probe = await gw.connect('demo-fan-basic');
  const { epoch } = (await subscribe(probe)).data as { epoch: string };
  probe.close();

  await commit(gw.db, CHANNEL, 301);
  const far = await gw.connect('demo-fan-basic');
  const tooFar = await subscribe(far, { offset: 0, epoch });
  assert.equal(tooFar.data.recovered, false);
  assert.equal(tooFar.data.offset, 301);
  const [live] = await publish(gw, 1, 'after');
  assert.equal((await far.next('tick')).id, live, 'live events continue');
  assert.deepEqual(far.frames.filter((f) => f.type === 'tick'), [], 'no event of the gap');

  const stale = await gw.connect('demo-fan-basic');
  const staleReply = await subscribe(stale, { offset: 300, epoch: 'not-the-epoch' });
  assert.equal(staleReply.data.recovered, false);
  assert.deepEqual(await stale.none('tick', 200), []);

  // 300 of the 302 events are recoverable from offset 2 … unless offset 3 was pruned.
  const near = await gw.connect('demo-fan-basic');
  assert.equal((await subscribe(near, { offset: 20, epoch })).data.recovered, true);
  assert.equal((await ticks(near, 282)).at(-1)!.id, live);
  await gw.db.orm.execute(sql`update realtime.outbox set published_at = now() - interval '48 hours' where channel = ${CHANNEL} and "offset" <= 21`);
  assert.ok((await gw.node.relay.prune()) >= 21);
  const pruned = await gw.connect('demo-fan-basic');
  const prunedReply = await subscribe(pruned, { offset: 20, epoch });
  assert.equal(prunedReply.data.recovered, false, 'offset 21 is gone');
  assert.deepEqual(await pruned.none('tick', 200), []);
  const ok = await gw.connect('demo-fan-basic');
  assert.equal((await subscribe(ok, { offset: 21, epoch })).data.recovered, true, 'from 22 on everything is there');
  assert.equal((await ticks(ok, 281))[0]!.offset, 22);
});

test('a recovery is served after the gateway restarted (history is the database)', async (t) => {
  const { db } = await createTestDatabase(t);
  const before = await startGateway(t, { db });
  const client = await before.connect('demo-fan-basic');
  const { epoch } = (await subscribe(client)).data as { epoch: string };
  await publish(before, 2, 'seen');
  await ticks(client, 2);
  const missed = await publish(before, 4, 'missed');
  await before.node.shutdown(0);

  const after = await startGateway(t, { db, seed: false });
  const back = await after.connect('demo-fan-basic');
  const reply = await subscribe(back, { offset: 2, epoch });
  assert.equal(reply.data.recovered, true);
  assert.deepEqual((await ticks(back, 4)).map((f) => f.id), missed);
  const reads = (await after.node.metrics.historyReads.get()).values;
  assert.equal(reads.find((v) => v.labels.source === 'database')?.value, 1, 'read from the database: the cache is new');
});

test('an event after a hole is held while the node fills the hole from history, then all go out in order', async (t) => {
  const gw = await startGateway(t);
  const client = await gw.connect('demo-fan-basic');
  await subscribe(client);
  await gw.node.relay.stop(); // nothing reaches the broker: the node sees only what the test hands it
  await commit(gw.db, CHANNEL, 3);
  const stored = await gw.db.orm.transaction((tx) => appendEvents(tx, [{ channel: CHANNEL, type: 'tick', data: { last: true } }]));
  gw.node.hub.deliver(toBrokerMessage(stored[0]!));
  const got = await ticks(client, 4);
  assert.deepEqual(got.map((f) => f.offset), [1, 2, 3, 4]);
  assert.equal(gw.node.hub.deliveredOffset(CHANNEL), 4);
  gw.node.hub.deliver(toBrokerMessage(stored[0]!));
  assert.deepEqual(await client.none('tick', 200), [], 'a duplicate offset is dropped');
});

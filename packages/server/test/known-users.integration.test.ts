/**
 * The user-exists cache of the connect path: batched lookups against a real database, remembered only when found,
 * bounded in size, forgotten at once by invalidate() and by a `user-deleted` event on every node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { KnownUsers } from '../src/auth/known-users.ts';
import { users } from '../src/db/schema.ts';
import type { Database } from '../src/db/client.ts';
import { createTestDatabase } from './helpers/database.ts';
import { startGateway } from './helpers/gateway.ts';

async function addUsers(db: Database, ids: string[]): Promise<void> {
  await db.orm.insert(users).values(ids.map((id) => ({ id, wallet: `wallet-${id}`, updatedAt: new Date() })));
}

test('lookups of one turn are answered together, found ids are remembered, unknown ones never', async (t) => {
  const { db } = await createTestDatabase(t);
  const ids = Array.from({ length: 1500 }, (_, i) => `ku-${i}`);
  await addUsers(db, ids);
  const known = new KnownUsers(db.orm, { ttlMs: 60_000, maxEntries: 10_000, maxBatch: 1000 });
  // 1,500 known and 10 unknown ids in one turn: two queries of at most 1,000 ids each, every answer right.
  const answers = await Promise.all([...ids, ...Array.from({ length: 10 }, (_, i) => `nobody-${i}`)].map((id) => known.exists(id)));
  assert.equal(answers.filter(Boolean).length, 1500);
  assert.deepEqual(answers.slice(1500), Array(10).fill(false));
  assert.equal(known.size, 1500, 'only found ids are remembered');
  // The same id asked twice in one turn: one lookup, both answered.
  assert.deepEqual(await Promise.all([known.exists('nobody-x'), known.exists('nobody-x')]), [false, false]);
  await addUsers(db, ['nobody-0']);
  assert.equal(await known.exists('nobody-0'), true, 'a user created after a miss is found at once');

  await db.orm.delete(users).where(eq(users.id, 'ku-0'));
  assert.equal(await known.exists('ku-0'), true, 'remembered until the TTL passes or it is invalidated');
  known.invalidate('ku-0');
  assert.equal(await known.exists('ku-0'), false);
});

test('the cache is bounded, TTL 0 always asks, and a failing database rejects the waiting lookups', async (t) => {
  const { db } = await createTestDatabase(t);
  await addUsers(db, ['b-1', 'b-2', 'b-3']);
  const small = new KnownUsers(db.orm, { ttlMs: 60_000, maxEntries: 2 });
  for (const id of ['b-1', 'b-2', 'b-3']) assert.equal(await small.exists(id), true);
  assert.equal(small.size, 2);
  const never = new KnownUsers(db.orm, { ttlMs: 0, maxEntries: 10 });
  assert.equal(await never.exists('b-1'), true);
  assert.equal(never.size, 0);
  await db.orm.delete(users).where(eq(users.id, 'b-1'));
  assert.equal(await never.exists('b-1'), false);
  const { db: closed } = await createTestDatabase(t);
  const failing = new KnownUsers(closed.orm, { ttlMs: 60_000, maxEntries: 10 });
  await closed.close();
  await assert.rejects(Promise.all([failing.exists('x'), failing.exists('y')]));
});

test('a user-deleted event makes the gateway forget the user: a `creator` subscription to it is refused again', async (t) => {
  const gw = await startGateway(t);
  await addUsers(gw.db, ['gone-creator']);
  // The event reaches the nodes its user channel is routed to: those where the user has a socket.
  const creatorSocket = await gw.connect('gone-creator');
  const fan = await gw.connect('demo-fan-basic');
  fan.send({ type: 'subscribe', channel: 'creator:gone-creator' });
  await fan.next('subscribed');
  await gw.db.orm.delete(users).where(eq(users.id, 'gone-creator'));
  fan.send({ type: 'unsubscribe', channel: 'creator:gone-creator' });
  await fan.next('unsubscribed');
  fan.send({ type: 'subscribe', channel: 'creator:gone-creator' });
  await fan.next('subscribed', 10_000); // remembered within the TTL
  const res = await gw.api('/v1/publish', { userId: 'gone-creator', type: 'user-deleted', data: {} });
  assert.equal(res.status, 200);
  await creatorSocket.next('user-deleted', 10_000);
  fan.send({ type: 'unsubscribe', channel: 'creator:gone-creator' });
  await fan.next('unsubscribed');
  fan.send({ type: 'subscribe', channel: 'creator:gone-creator' });
  assert.equal((await fan.next('error', 10_000)).data.code, 'GW_ERR_CHANNEL_NOT_FOUND', 'looked up again after the event');
  // gateway.invalidateUser does the same at once (the disconnect path).
  await addUsers(gw.db, ['gone-too']);
  fan.send({ type: 'subscribe', channel: 'creator:gone-too' });
  await fan.next('subscribed');
  await gw.db.orm.delete(users).where(eq(users.id, 'gone-too'));
  gw.node.gateway.invalidateUser('gone-too');
  fan.send({ type: 'unsubscribe', channel: 'creator:gone-too' });
  await fan.next('unsubscribed');
  fan.send({ type: 'subscribe', channel: 'creator:gone-too' });
  assert.equal((await fan.next('error')).data.code, 'GW_ERR_CHANNEL_NOT_FOUND');
});

/**
 * Recovery through the gateway's history (since / epoch / recovered): what was published while the client was away is
 * replayed after the reconnect, in order, each id once, and a replay that overlaps what was already seen is deduplicated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventFrame } from '@fonana-realtime/protocol';
import { EventPublisher } from '../../server/src/db/publish.ts';
import { clientFor, next, startRestartableGateway } from './helpers.ts';

test('after a server restart, events published while it was down arrive once, in order, with no recovery lost', async (t) => {
  const g = await startRestartableGateway(t);
  const client = clientFor(t, g, 'demo-fan-none', { backoff: { minMs: 200, maxMs: 1000 } });
  const sub = client.subscribe('creator:demo-creator');
  await next(sub, 'state', (s) => s === 'subscribed');
  const seen: EventFrame[] = [];
  client.on('event', (frame) => seen.push(frame));
  const lost: string[] = [];
  client.on('recovery', ({ channel }) => lost.push(channel));

  // Seen live before the restart, on both channels.
  const before = await g.current.api('/v1/publish', { channel: 'creator:demo-creator', type: 'before', data: {} });
  const beforeUser = await g.current.api('/v1/publish', { userId: 'demo-fan-none', type: 'before-user', data: {} });
  await next(client, 'event', (f) => f.id === beforeUser.body.id);
  assert.ok(seen.some((f) => f.id === before.body.id));
  assert.ok(sub.cursor && client.user?.cursor, 'positions are tracked once the server tells them');

  await g.stop();
  // While the gateway is down: two events on the creator channel and one for the user, committed to the outbox.
  const publisher = new EventPublisher(g.db.orm);
  const down1 = await publisher.publish({ channel: 'creator_demo-creator', type: 'while-down', data: { n: 1 } });
  const down2 = await publisher.publish({ channel: 'creator_demo-creator', type: 'while-down', data: { n: 2 } });
  const downUser = await publisher.publish({ channel: 'user_demo-fan-none', type: 'while-down-user', data: {} });
  // Rewind both positions by one: the replay then overlaps an event already delivered, which must not come again.
  sub.cursor!.offset -= 1;
  client.user!.cursor!.offset -= 1;

  const marker = next(client, 'event', (f) => (f.type as string) === 'after');
  await g.start();
  if (sub.state !== 'subscribed') await next(sub, 'state', (s) => s === 'subscribed', 30_000);
  await g.current.api('/v1/publish', { channel: 'creator:demo-creator', type: 'after', data: {} });
  await marker;

  const ids = seen.map((f) => f.id);
  assert.deepEqual(lost, [], 'both channels were recovered');
  for (const id of [before.body.id, beforeUser.body.id, down1.id, down2.id, downUser.id]) {
    assert.equal(ids.filter((x) => x === id).length, 1, `event ${id} delivered exactly once`);
  }
  const creatorEvents = seen.filter((f) => f.channel === 'creator_demo-creator').map((f) => f.type as string);
  assert.deepEqual(creatorEvents, ['before', 'while-down', 'while-down', 'after']);
  const offsets = seen.filter((f) => f.channel === 'creator_demo-creator').map((f) => f.offset);
  assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), 'in offset order');
});

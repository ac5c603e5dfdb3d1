import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './helpers/gateway.ts';
import type { TestClient } from './helpers/ws-client.ts';

async function subscribe(client: TestClient, channel: unknown) {
  client.send({ type: 'subscribe', channel });
  return client.next((f) => f.type === 'subscribed' || f.type === 'error');
}

test('who may subscribe to what', async (t) => {
  const gw = await startGateway(t);
  const fan = await gw.connect('demo-fan-basic');
  const expectations: [unknown, string | null][] = [
    [{ type: 'notifications', userId: 'demo-fan-basic' }, 'notifications_demo-fan-basic'],
    [{ type: 'notifications', userId: 'demo-fan-vip' }, 'GW_ERR_CHANNEL_FORBIDDEN'],
    ['feed:demo-fan-basic', 'feed_demo-fan-basic'],
    [{ type: 'feed', userId: 'demo-creator' }, 'GW_ERR_CHANNEL_FORBIDDEN'],
    [{ type: 'creator', id: 'demo-creator' }, 'creator_demo-creator'],
    ['creator:no-such-creator', 'GW_ERR_CHANNEL_NOT_FOUND'],
    [{ type: 'post', postId: 'demo-post-free' }, 'post_demo-post-free'],
    [{ type: 'post', postId: 'demo-post-locked' }, 'post_demo-post-locked'],
    [{ type: 'post', postId: 'demo-post-basic' }, 'post_demo-post-basic'],
    [{ type: 'post', postId: 'demo-post-premium' }, 'GW_ERR_CHANNEL_FORBIDDEN'],
    ['post:demo-post-vip', 'GW_ERR_CHANNEL_FORBIDDEN'],
    ['post_demo-post-priced', 'GW_ERR_CHANNEL_FORBIDDEN'],
    [{ type: 'post', postId: 'no-such-post' }, 'GW_ERR_CHANNEL_NOT_FOUND'],
    [{ type: 'user', userId: 'demo-fan-basic' }, 'user_demo-fan-basic'],
    ['user:demo-fan-vip', 'GW_ERR_CHANNEL_FORBIDDEN'],
    [{ type: 'secret', id: 'x' }, 'GW_ERR_UNKNOWN_CHANNEL'],
  ];
  for (const [channel, expected] of expectations) {
    const reply = await subscribe(fan, channel);
    if (expected!.startsWith('GW_ERR_')) {
      assert.equal(reply.type, 'error', JSON.stringify(channel));
      assert.equal(reply.data.code, expected, JSON.stringify(channel));
    } else {
      assert.equal(reply.type, 'subscribed', JSON.stringify(channel));
      assert.equal(reply.data.channelKey, expected);
      assert.deepEqual(reply.data.channel, channel, 'the channel is echoed as sent');
    }
    if (expected === 'notifications_demo-fan-basic') await fan.next('unread_notifications');
  }
  // Purchases and the author: the buyer sees the priced post, the creator sees everything of theirs.
  const buyer = await gw.connect('demo-buyer');
  assert.equal((await subscribe(buyer, 'post:demo-post-priced')).type, 'subscribed');
  assert.equal((await subscribe(buyer, 'post:demo-post-basic')).data.code, 'GW_ERR_CHANNEL_FORBIDDEN');
  const creator = await gw.connect('demo-creator');
  for (const post of ['demo-post-vip', 'demo-post-priced', 'demo-post-tier-priced']) {
    assert.equal((await subscribe(creator, `post:${post}`)).type, 'subscribed', post);
  }
  const expired = await gw.connect('demo-fan-expired');
  assert.equal((await subscribe(expired, 'post:demo-post-premium')).data.code, 'GW_ERR_CHANNEL_FORBIDDEN', 'an expired subscription unlocks nothing');
  const free = await gw.connect('demo-fan-free');
  assert.equal((await subscribe(free, 'post:demo-post-locked')).data.code, 'GW_ERR_CHANNEL_FORBIDDEN', 'a Free plan does not unlock locked posts');
});

test('subscribing to own notifications pushes the newest unread ones with their count', async (t) => {
  const gw = await startGateway(t);
  const creator = await gw.connect('demo-creator');
  assert.equal((await subscribe(creator, { type: 'notifications', userId: 'demo-creator' })).type, 'subscribed');
  const unread = await creator.next('unread_notifications');
  assert.equal(unread.data.count, 2);
  assert.equal(unread.data.notifications.length, 2);
  assert.ok(unread.data.notifications.every((n: any) => n.userId === 'demo-creator' && n.isRead === false));
});

test('ping, unsubscribe, and bad frames: an error frame with a code, and the connection stays', async (t) => {
  const gw = await startGateway(t, { env: { MAX_FRAME_BYTES: '1024', MAX_CHANNELS_PER_SOCKET: '2' } });
  const client = await gw.connect('demo-fan-basic');
  client.send({ type: 'ping' });
  assert.equal(typeof (await client.next('pong')).data.serverTime, 'number');
  const bad: [string, string][] = [
    ['{not json', 'GW_ERR_BAD_FRAME'],
    ['[1,2]', 'GW_ERR_BAD_FRAME'],
    ['{"channel":"creator:demo-creator"}', 'GW_ERR_INVALID_FIELD'],
    ['{"type":"dance"}', 'GW_ERR_UNKNOWN_TYPE'],
    ['{"type":"subscribe"}', 'GW_ERR_INVALID_FIELD'],
    ['{"type":"subscribe","channel":{"type":"post"}}', 'GW_ERR_UNKNOWN_CHANNEL'],
  ];
  for (const [text, code] of bad) {
    client.send(text);
    const err = await client.next('error');
    assert.equal(err.data.code, code, text);
    assert.equal(typeof err.data.message, 'string');
  }
  client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await client.next('error')).data.code, 'GW_ERR_BINARY_FRAME');

  assert.equal((await subscribe(client, 'creator:demo-creator')).type, 'subscribed');
  assert.equal((await subscribe(client, 'creator:demo-creator-2')).type, 'subscribed');
  assert.equal((await subscribe(client, 'feed:demo-fan-basic')).data.code, 'GW_ERR_TOO_MANY_CHANNELS');
  assert.equal((await subscribe(client, 'creator:demo-creator')).type, 'subscribed', 'resubscribing is idempotent');
  client.send({ type: 'unsubscribe', channel: 'creator:demo-creator' });
  const unsubscribed = await client.next('unsubscribed');
  assert.equal(unsubscribed.data.channelKey, 'creator_demo-creator');
  assert.equal((await subscribe(client, 'feed:demo-fan-basic')).type, 'subscribed', 'a freed slot can be used');

  client.send({ type: 'ping' });
  assert.equal((await client.next('pong')).type, 'pong', 'still connected after every bad frame');
  client.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(2000) }));
  const closed = await client.closed;
  assert.equal(closed.code, 1009, 'a frame over MAX_FRAME_BYTES closes with 1009');
});

test('an event for a user reaches all of their sockets; closing one leaves the other', async (t) => {
  const gw = await startGateway(t);
  const tab1 = await gw.connect('demo-fan-vip');
  const tab2 = await gw.connect('demo-fan-vip');
  const other = await gw.connect('demo-fan-basic');
  const first = await gw.api('/v1/publish', { userId: 'demo-fan-vip', type: 'hello', data: { n: 1 } });
  assert.equal(first.status, 200);
  const [e1, e2] = await Promise.all([tab1.next('hello'), tab2.next('hello')]);
  assert.deepEqual(e1, e2, 'the same frame on both sockets');
  assert.deepEqual(Object.keys(e1).sort(), ['channel', 'data', 'id', 'offset', 'ts', 'type']);
  assert.equal(e1.id, first.body.id);
  assert.equal(e1.channel, 'user_demo-fan-vip');
  assert.deepEqual(e1.data, { n: 1 });
  assert.equal(typeof e1.offset, 'number');
  assert.ok(Math.abs((e1.ts as number) - Date.now()) < 10_000);

  tab1.close();
  await tab1.closed;
  const second = await gw.api('/v1/publish', { userId: 'demo-fan-vip', type: 'hello', data: { n: 2 } });
  const e3 = await tab2.next('hello');
  assert.equal(e3.id, second.body.id);
  assert.equal(e3.offset, (e1.offset as number) + 1, 'offsets count up per channel');
  assert.deepEqual(await other.none('hello'), [], 'another user gets nothing');
});

test('channel events reach the sockets subscribed to that channel only', async (t) => {
  const gw = await startGateway(t);
  const subscriber = await gw.connect('demo-fan-basic');
  const bystander = await gw.connect('demo-fan-vip');
  assert.equal((await subscribe(subscriber, 'creator:demo-creator')).type, 'subscribed');
  const published = await gw.api('/v1/publish', { channel: 'creator:demo-creator', type: 'creator_updated', data: { bio: 'new' } });
  assert.equal(published.body.channel, 'creator_demo-creator');
  const event = await subscriber.next('creator_updated');
  assert.equal(event.channel, 'creator_demo-creator');
  assert.deepEqual(event.data, { bio: 'new' });
  assert.deepEqual(await bystander.none('creator_updated'), []);
});

test('an event the broker hands over twice (at-least-once publishing) reaches each socket once', async (t) => {
  const gw = await startGateway(t);
  const client = await gw.connect('demo-fan-vip');
  const frame = { type: 'dup', id: 'evt-dup-1', channel: 'user_demo-fan-vip', offset: 1, ts: Date.now(), data: {} };
  const message = { id: frame.id, channel: frame.channel, type: frame.type, offset: 1, encoded: JSON.stringify(frame) };
  await gw.node.broker.publish([message, message]);
  await gw.node.broker.publish([message]);
  assert.deepEqual(await client.next('dup'), frame);
  assert.deepEqual(await client.none('dup', 300), []);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChannelTypes,
  channelKey,
  channelName,
  channelObject,
  isValidId,
  parseChannel,
  userChannel,
  type Channel,
} from '../src/channels.ts';

test('parseChannel: every object form', () => {
  assert.deepEqual(parseChannel({ type: 'notifications', userId: 'u1' }), { type: 'notifications', id: 'u1' });
  assert.deepEqual(parseChannel({ type: 'feed', userId: 'u2' }), { type: 'feed', id: 'u2' });
  assert.deepEqual(parseChannel({ type: 'creator', id: 'c1' }), { type: 'creator', id: 'c1' });
  assert.deepEqual(parseChannel({ type: 'post', postId: 'p1' }), { type: 'post', id: 'p1' });
});

test('parseChannel: object forms read only their own id field', () => {
  assert.equal(parseChannel({ type: 'notifications', id: 'u1' }), null);
  assert.equal(parseChannel({ type: 'feed', postId: 'u1' }), null);
  assert.equal(parseChannel({ type: 'creator', userId: 'c1' }), null);
  assert.equal(parseChannel({ type: 'post', id: 'p1' }), null);
  assert.equal(parseChannel({ type: 'post', postId: 42 }), null);
});

test('parseChannel: string forms <type>:<id> and wire keys <type>_<id>', () => {
  assert.deepEqual(parseChannel('notifications:u1'), { type: 'notifications', id: 'u1' });
  assert.deepEqual(parseChannel('feed:u1'), { type: 'feed', id: 'u1' });
  assert.deepEqual(parseChannel('creator:c1'), { type: 'creator', id: 'c1' });
  assert.deepEqual(parseChannel('post:p1'), { type: 'post', id: 'p1' });
  assert.deepEqual(parseChannel('post_p1'), { type: 'post', id: 'p1' });
  assert.deepEqual(parseChannel('notifications_u1'), { type: 'notifications', id: 'u1' });
  assert.deepEqual(parseChannel('creator_c1'), { type: 'creator', id: 'c1' });
  assert.deepEqual(parseChannel('feed_u1'), { type: 'feed', id: 'u1' });
  // Only the first separator splits: ids may contain `_` (cuid-like ids, snake ids).
  assert.deepEqual(parseChannel('post_abc_def'), { type: 'post', id: 'abc_def' });
  assert.deepEqual(parseChannel('post:abc_def'), { type: 'post', id: 'abc_def' });
});

test('parseChannel: refuses unknown types, missing ids and malformed ids', () => {
  const refused: unknown[] = [
    { type: 'posts', postId: 'p1' },
    { type: 'admin', id: 'x' },
    { type: 'POST', postId: 'p1' },
    { postId: 'p1' },
    { type: 'post' },
    { type: 'post', postId: '' },
    { type: 'post', postId: 'has space' },
    { type: 'post', postId: 'tab\there' },
    { type: 'post', postId: 'new\nline' },
    { type: 'post', postId: 'nul\u0000' },
    { type: 'post', postId: 'a'.repeat(129) },
    { type: 'post', postId: 'a:b' },
    'posts:p1',
    'admin_x',
    'post',
    'post:',
    'post_',
    ':p1',
    'post:has space',
    'post: p1',
    `post:${'a'.repeat(129)}`,
    'post:a:b',
    'Post:p1',
    '',
    [],
    ['post', 'p1'],
    [{ type: 'post', postId: 'p1' }],
    null,
    undefined,
    42,
    true,
  ];
  for (const input of refused) assert.equal(parseChannel(input), null, JSON.stringify(input));
});

test('parseChannel: ids of exactly 128 characters are accepted', () => {
  const id = 'a'.repeat(128);
  assert.deepEqual(parseChannel({ type: 'post', postId: id }), { type: 'post', id });
  assert.deepEqual(parseChannel(`post:${id}`), { type: 'post', id });
});

test('parseChannel: user channels only when subscribableOnly is false', () => {
  assert.equal(parseChannel({ type: 'user', userId: 'u1' }), null);
  assert.equal(parseChannel('user:u1'), null);
  assert.equal(parseChannel('user_u1'), null);
  assert.deepEqual(parseChannel({ type: 'user', userId: 'u1' }, false), { type: 'user', id: 'u1' });
  assert.deepEqual(parseChannel('user:u1', false), { type: 'user', id: 'u1' });
  assert.deepEqual(parseChannel('user_u1', false), { type: 'user', id: 'u1' });
  assert.equal(parseChannel({ type: 'user', userId: 'bad id' }, false), null);
  // Subscribable types still parse with subscribableOnly = false.
  assert.deepEqual(parseChannel('post:p1', false), { type: 'post', id: 'p1' });
});

test('isValidId', () => {
  assert.equal(isValidId('clx1abc'), true);
  assert.equal(isValidId('0'), true);
  assert.equal(isValidId(''), false);
  assert.equal(isValidId(' a'), false);
  assert.equal(isValidId('a:b'), false);
  assert.equal(isValidId('a\u007f'), false);
  assert.equal(isValidId(1), false);
  assert.equal(isValidId(null), false);
});

test('channelKey and channelName', () => {
  assert.equal(channelKey({ type: 'post', id: 'p1' }), 'post_p1');
  assert.equal(channelName({ type: 'post', id: 'p1' }), 'post:p1');
  assert.equal(channelKey(userChannel('u1')), 'user_u1');
  assert.equal(channelName(userChannel('u1')), 'user:u1');
  assert.deepEqual(userChannel('u1'), { type: 'user', id: 'u1' });
});

const samples: Channel[] = ChannelTypes.flatMap((type) => [
  { type, id: 'x1' },
  { type, id: 'snake_case_id' },
  { type, id: 'a'.repeat(128) },
]);

test('round trips: channelKey, channelName and channelObject parse back to the same channel', () => {
  for (const channel of samples) {
    assert.deepEqual(parseChannel(channelKey(channel), false), channel, channelKey(channel));
    assert.deepEqual(parseChannel(channelName(channel), false), channel, channelName(channel));
    assert.deepEqual(parseChannel(channelObject(channel), false), channel, JSON.stringify(channelObject(channel)));
    // And through JSON, as channels travel on the wire.
    assert.deepEqual(parseChannel(JSON.parse(JSON.stringify(channelObject(channel))), false), channel);
  }
});

test('channelObject gives the reference client shapes', () => {
  assert.deepEqual(channelObject({ type: 'notifications', id: 'u1' }), { type: 'notifications', userId: 'u1' });
  assert.deepEqual(channelObject({ type: 'feed', id: 'u1' }), { type: 'feed', userId: 'u1' });
  assert.deepEqual(channelObject({ type: 'creator', id: 'c1' }), { type: 'creator', id: 'c1' });
  assert.deepEqual(channelObject({ type: 'post', id: 'p1' }), { type: 'post', postId: 'p1' });
  assert.deepEqual(channelObject({ type: 'user', id: 'u1' }), { type: 'user', userId: 'u1' });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeClientFrame, encodeFrame, type DecodedClientFrame } from '../src/codec.ts';
import { Codes, type Code } from '../src/codes.ts';
import type { ClientFrame } from '../src/messages.ts';

/** Encodes a client frame, decodes it, and checks the result (socket.io-parser's test/helpers.js, for our codec). */
function roundTrip(frame: ClientFrame, expected: DecodedClientFrame): void {
  const text = encodeFrame(frame);
  assert.equal(typeof text, 'string');
  assert.deepStrictEqual(JSON.parse(text), frame, 'encodeFrame is plain JSON');
  assert.deepStrictEqual(decodeClientFrame(text), { ok: true, frame: expected });
}

/** Decodes `text` and checks that it is refused with `code` and a non-empty message. */
function refused(text: string, code: Code): void {
  const result = decodeClientFrame(text);
  assert.equal(result.ok, false, text);
  if (result.ok) return;
  assert.equal(result.code, code, text);
  assert.ok(Object.hasOwn(Codes, result.code));
  assert.equal(typeof result.message, 'string');
  assert.ok(result.message.length > 0);
}

test('round trip: auth', () => {
  roundTrip({ type: 'auth', token: 'a.b.c' }, { type: 'auth', token: 'a.b.c' });
});

test('round trip: ping', () => {
  roundTrip({ type: 'ping' }, { type: 'ping' });
});

test('round trip: subscribe and unsubscribe, object and string channels', () => {
  roundTrip(
    { type: 'subscribe', channel: { type: 'post', postId: 'p1' } },
    { type: 'subscribe', channel: { type: 'post', id: 'p1' }, channelInput: { type: 'post', postId: 'p1' } },
  );
  roundTrip(
    { type: 'subscribe', channel: { type: 'notifications', userId: 'u1' } },
    {
      type: 'subscribe',
      channel: { type: 'notifications', id: 'u1' },
      channelInput: { type: 'notifications', userId: 'u1' },
    },
  );
  roundTrip(
    { type: 'unsubscribe', channel: { type: 'creator', id: 'c1' } },
    { type: 'unsubscribe', channel: { type: 'creator', id: 'c1' }, channelInput: { type: 'creator', id: 'c1' } },
  );
  roundTrip(
    { type: 'subscribe', channel: 'feed:u1' },
    { type: 'subscribe', channel: { type: 'feed', id: 'u1' }, channelInput: 'feed:u1' },
  );
  roundTrip(
    { type: 'unsubscribe', channel: 'post_p1' },
    { type: 'unsubscribe', channel: { type: 'post', id: 'p1' }, channelInput: 'post_p1' },
  );
});

test('extra fields are ignored', () => {
  assert.deepStrictEqual(decodeClientFrame('{"type":"ping","id":7}'), { ok: true, frame: { type: 'ping' } });
  assert.deepStrictEqual(decodeClientFrame('{"type":"auth","token":"t","extra":true}'), {
    ok: true,
    frame: { type: 'auth', token: 't' },
  });
});

test('invalid JSON is GW_ERR_BAD_FRAME', () => {
  refused('', 'GW_ERR_BAD_FRAME');
  refused('{', 'GW_ERR_BAD_FRAME');
  refused('{type:"ping"}', 'GW_ERR_BAD_FRAME');
  refused("{'type':'ping'}", 'GW_ERR_BAD_FRAME');
  refused('{"type":"ping"} trailing', 'GW_ERR_BAD_FRAME');
});

test('JSON that is not an object is GW_ERR_BAD_FRAME', () => {
  for (const text of ['null', '42', '"ping"', 'true', '[]', '[{"type":"ping"}]']) refused(text, 'GW_ERR_BAD_FRAME');
});

test('a frame without type is GW_ERR_INVALID_FIELD', () => {
  refused('{}', 'GW_ERR_INVALID_FIELD');
  refused('{"token":"t"}', 'GW_ERR_INVALID_FIELD');
});

test('an unknown type is GW_ERR_UNKNOWN_TYPE', () => {
  refused('{"type":"publish"}', 'GW_ERR_UNKNOWN_TYPE');
  refused('{"type":"PING"}', 'GW_ERR_UNKNOWN_TYPE');
  refused('{"type":""}', 'GW_ERR_UNKNOWN_TYPE');
  refused('{"type":"toString"}', 'GW_ERR_UNKNOWN_TYPE');
  refused('{"type":"__proto__"}', 'GW_ERR_UNKNOWN_TYPE');
});

test('subscribe or unsubscribe without channel is GW_ERR_INVALID_FIELD', () => {
  refused('{"type":"subscribe"}', 'GW_ERR_INVALID_FIELD');
  refused('{"type":"unsubscribe"}', 'GW_ERR_INVALID_FIELD');
});

test('a bad channel is GW_ERR_UNKNOWN_CHANNEL', () => {
  refused('{"type":"subscribe","channel":null}', 'GW_ERR_UNKNOWN_CHANNEL');
  refused('{"type":"subscribe","channel":"nope:1"}', 'GW_ERR_UNKNOWN_CHANNEL');
  refused('{"type":"subscribe","channel":{"type":"post"}}', 'GW_ERR_UNKNOWN_CHANNEL');
  refused('{"type":"subscribe","channel":{"type":"post","postId":"a b"}}', 'GW_ERR_UNKNOWN_CHANNEL');
  refused('{"type":"subscribe","channel":["post","p1"]}', 'GW_ERR_UNKNOWN_CHANNEL');
  refused('{"type":"unsubscribe","channel":42}', 'GW_ERR_UNKNOWN_CHANNEL');
  refused('{"type":"subscribe","channel":{"type":"user","userId":"a b"}}', 'GW_ERR_UNKNOWN_CHANNEL');
});

test('auth without a usable token is GW_ERR_INVALID_FIELD', () => {
  refused('{"type":"auth"}', 'GW_ERR_INVALID_FIELD');
  refused('{"type":"auth","token":""}', 'GW_ERR_INVALID_FIELD');
  refused('{"type":"auth","token":42}', 'GW_ERR_INVALID_FIELD');
  refused('{"type":"auth","token":null}', 'GW_ERR_INVALID_FIELD');
  refused(JSON.stringify({ type: 'auth', token: 'x'.repeat(8193) }), 'GW_ERR_INVALID_FIELD');
  assert.deepStrictEqual(decodeClientFrame(JSON.stringify({ type: 'auth', token: 'x'.repeat(8192) })), {
    ok: true,
    frame: { type: 'auth', token: 'x'.repeat(8192) },
  });
});

test('refusal messages never echo the token', () => {
  const result = decodeClientFrame(JSON.stringify({ type: 'auth', token: 'secret-token-'.repeat(700) }));
  assert.equal(result.ok, false);
  if (!result.ok) assert.ok(!result.message.includes('secret-token-'));
});

test('encodeFrame serialises server frames as JSON', () => {
  const frame = { type: 'pong', data: { serverTime: 1 } };
  assert.equal(encodeFrame(frame), '{"type":"pong","data":{"serverTime":1}}');
});

test('nesting depth is bounded before parsing; brackets inside strings do not count', async () => {
  const { nestingDepthExceeds, MAX_FRAME_DEPTH } = await import('../src/codec.ts');
  assert.equal(nestingDepthExceeds('{"a":[{"b":1}]}', 3), false);
  assert.equal(nestingDepthExceeds('{"a":[{"b":[1]}]}', 3), true);
  assert.equal(nestingDepthExceeds('{"a":"[[[[[[[[[[{{{{{{\\"[[[["}', 1), false);
  const deep = decodeClientFrame(`{"type":"ping","x":${'['.repeat(MAX_FRAME_DEPTH)}${']'.repeat(MAX_FRAME_DEPTH)}}`);
  assert.equal(deep.ok, false);
  assert.equal(!deep.ok && deep.code, 'GW_ERR_BAD_FRAME');
});

test('a valid channel is echoed as its own fields only; an unknown one is echoed cut short', () => {
  const ok = decodeClientFrame(JSON.stringify({ type: 'subscribe', channel: { type: 'post', postId: 'p1', junk: { a: 1 } } }));
  assert.ok(ok.ok && ok.frame.type === 'subscribe');
  assert.deepEqual(ok.ok && ok.frame.type === 'subscribe' && ok.frame.channelInput, { type: 'post', postId: 'p1' });
  const bad = decodeClientFrame(JSON.stringify({ type: 'subscribe', channel: 'nope:' + 'x'.repeat(500) }));
  assert.ok(!bad.ok);
  assert.equal(!bad.ok && (bad.channel as string).length, 160);
});

test('round trip: subscribe with since, auth with since, the own user channel', () => {
  roundTrip(
    { type: 'subscribe', channel: 'post:p1', since: { offset: 12, epoch: 'e1' } },
    { type: 'subscribe', channel: { type: 'post', id: 'p1' }, channelInput: 'post:p1', since: { offset: 12, epoch: 'e1' } },
  );
  roundTrip(
    { type: 'subscribe', channel: { type: 'user', userId: 'u1' }, since: { offset: 0, epoch: 'x' } },
    {
      type: 'subscribe',
      channel: { type: 'user', id: 'u1' },
      channelInput: { type: 'user', userId: 'u1' },
      since: { offset: 0, epoch: 'x' },
    },
  );
  roundTrip({ type: 'subscribe', channel: 'user:u1' }, { type: 'subscribe', channel: { type: 'user', id: 'u1' }, channelInput: 'user:u1' });
  roundTrip(
    { type: 'auth', token: 't', since: { offset: 3, epoch: 'abc' } },
    { type: 'auth', token: 't', since: { offset: 3, epoch: 'abc' } },
  );
});

test('since is validated: offset a non-negative safe integer, epoch a short non-empty string', () => {
  const bad = [
    { offset: -1, epoch: 'e' },
    { offset: 1.5, epoch: 'e' },
    { offset: 2 ** 53, epoch: 'e' },
    { offset: '3', epoch: 'e' },
    { offset: 3 },
    { offset: 3, epoch: '' },
    { offset: 3, epoch: 'e'.repeat(65) },
    { offset: 3, epoch: 7 },
    [3, 'e'],
    null,
    'since',
  ];
  for (const since of bad) {
    refused(JSON.stringify({ type: 'subscribe', channel: 'post:p1', since }), 'GW_ERR_INVALID_FIELD');
    refused(JSON.stringify({ type: 'auth', token: 't', since }), 'GW_ERR_INVALID_FIELD');
  }
  const result = decodeClientFrame(JSON.stringify({ type: 'subscribe', channel: 'post:p1', since: { offset: -1, epoch: 'e' } }));
  assert.deepEqual(result.ok ? null : result.channel, 'post:p1');
});

test('the user channel can be subscribed but not unsubscribed', () => {
  refused(JSON.stringify({ type: 'unsubscribe', channel: 'user:u1' }), 'GW_ERR_UNKNOWN_CHANNEL');
  refused(JSON.stringify({ type: 'unsubscribe', channel: { type: 'user', userId: 'u1' } }), 'GW_ERR_UNKNOWN_CHANNEL');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './helpers/gateway.ts';

/** `{"a":{"a":…}}` nested `depth` levels: JSON.stringify of such a value overflows the stack near 5,000. */
function nested(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

test('a deeply nested channel in subscribe or unsubscribe gets an error frame; the node keeps serving', async (t) => {
  const gw = await startGateway(t);
  const attacker = await gw.connect('demo-fan-basic');
  const bystander = await gw.connect('demo-fan-vip');
  for (const type of ['subscribe', 'unsubscribe']) {
    for (const channel of [
      `{"type":"post","postId":"demo-post-free","x":${nested(6000)}}`,
      `{"type":"creator","id":"demo-creator","x":[${'['.repeat(6000)}${']'.repeat(6000)}]}`,
      nested(6000),
    ]) {
      attacker.send(`{"type":"${type}","channel":${channel}}`);
      const err = await attacker.next('error');
      assert.equal(err.data.code, 'GW_ERR_BAD_FRAME', `${type}: ${channel.slice(0, 40)}`);
      assert.match(err.data.message, /nested deeper/);
    }
  }
  // Shallow extra fields are accepted but never echoed: the reply carries the channel's own fields only.
  attacker.send({ type: 'subscribe', channel: { type: 'creator', id: 'demo-creator', extra: { big: 'x'.repeat(5000) } } });
  const subscribed = await attacker.next('subscribed');
  assert.deepEqual(subscribed.data.channel, { type: 'creator', id: 'demo-creator' });
  // An unknown channel is echoed, bounded, so pipelined subscribes can be matched to their errors.
  attacker.send({ type: 'subscribe', channel: { type: 'secret', id: 'y'.repeat(1000), deep: { a: 1 } } });
  const unknown = await attacker.next('error');
  assert.equal(unknown.data.code, 'GW_ERR_UNKNOWN_CHANNEL');
  assert.deepEqual(unknown.data.channel, { type: 'secret', id: 'y'.repeat(160) });
  attacker.send({ type: 'subscribe', channel: `secret:${'z'.repeat(1000)}` });
  assert.equal((await attacker.next('error')).data.channel, `secret:${'z'.repeat(153)}`);

  attacker.send({ type: 'ping' });
  assert.equal((await attacker.next('pong')).type, 'pong', 'the attacker is still connected');
  bystander.send({ type: 'ping' });
  assert.equal((await bystander.next('pong')).type, 'pong', 'the node still serves others');
  const res = await fetch(`${gw.httpUrl}/healthz`);
  assert.equal(res.status, 200);
});

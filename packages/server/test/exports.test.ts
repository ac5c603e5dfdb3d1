import { test } from 'node:test';
import assert from 'node:assert/strict';

test('the packages resolve through their exports maps and expose their public API', async () => {
  const server = await import('@fonana-realtime/server');
  for (const name of ['GatewayNode', 'loadConfig', 'createLogger', 'mintToken', 'verifyToken', 'openDatabase', 'migrate', 'seed', 'signPayload', 'createBroker']) {
    assert.equal(typeof (server as Record<string, unknown>)[name], 'function', name);
  }
  const protocol = await import('@fonana-realtime/protocol');
  assert.equal(protocol.shouldReconnect(1012), true);
  assert.equal(protocol.channelKey(protocol.parseChannel('post:p1')!), 'post_p1');
  assert.equal(protocol.Codes.GW_ERR_AUTH_EXPIRED.close, 4001);
});

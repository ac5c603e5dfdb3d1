import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../src/logger.ts';
import { startGateway, TEST_API_KEY, TEST_SECRET } from './helpers/gateway.ts';
import { confirm, TEST_WEBHOOK_SECRET } from './helpers/payments.ts';
import { TestClient } from './helpers/ws-client.ts';

test('no log line carries a token, a key or a secret, whatever the client sends', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const gw = await startGateway(t, { logger: createLogger('trace', sink), env: { PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET } });
  const token = await gw.token('demo-fan-basic');
  const expired = await gw.token('demo-fan-basic', -60);

  const byQuery = await TestClient.open(`${gw.wsUrl}?token=${token}`);
  await byQuery.next('connected');
  const refused = new TestClient(`${gw.wsUrl}?token=${expired}`);
  assert.equal((await refused.closed).code, 4001);
  const byFrame = await TestClient.open(gw.wsUrl);
  byFrame.send({ type: 'auth', token: 'not-a-jwt-but-secret-looking' });
  assert.equal((await byFrame.closed).code, 4001);
  await fetch(`${gw.httpUrl}/v1/posts/demo-post-basic?token=${token}`, { headers: { authorization: `Bearer ${token}` } });
  await fetch(`${gw.httpUrl}/v1/posts/demo-post-basic`, { headers: { authorization: `Bearer ${expired}` } });
  await gw.api('/v1/publish', { userId: 'demo-fan-basic', type: 'x' });
  await confirm(gw.httpUrl, { kind: 'post_purchase', txSignature: 'tx-log', userId: 'demo-fan-none', postId: 'demo-post-priced', amount: 0.1, currency: 'SOL' });
  byQuery.close();
  await byQuery.closed;
  await gw.node.shutdown(0);

  assert.ok(lines.length >= 8, `the test produced logs (${lines.length} lines)`);
  assert.ok(lines.some((l) => l.includes('websocket authentication refused')), 'auth refusals are logged');
  assert.ok(lines.some((l) => l.includes('"path":"/v1/posts/demo-post-basic"')), 'requests are logged by path');
  for (const secret of [token, expired, 'not-a-jwt-but-secret-looking', TEST_API_KEY, TEST_SECRET, TEST_WEBHOOK_SECRET]) {
    const leaking = lines.filter((l) => l.includes(secret));
    assert.deepEqual(leaking, [], `no line contains ${secret.slice(0, 12)}…`);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { TestClient } from './helpers/ws-client.ts';
import { startGateway, TEST_SECRET } from './helpers/gateway.ts';

const key = (secret: string) => new TextEncoder().encode(secret);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function closeOf(url: string, options?: ConstructorParameters<typeof TestClient>[1], firstFrame?: unknown) {
  const client = new TestClient(url, options);
  if (firstFrame !== undefined) client.socket.on('open', () => client.send(firstFrame));
  const closed = await client.closed;
  return { ...closed, frames: client.frames };
}

test('a valid token, by query, header or first frame, gets `connected` with the user, a connection id and the server time', async (t) => {
  const gw = await startGateway(t);
  const token = await gw.token('demo-fan-basic');

  const byQuery = await TestClient.open(`${gw.wsUrl}?token=${token}`);
  const connected = await byQuery.next('connected');
  assert.equal(connected.data.userId, 'demo-fan-basic');
  assert.match(connected.data.connectionId, /^[0-9a-f-]{36}$/);
  assert.ok(Math.abs(connected.data.serverTime - Date.now()) < 5000);

  const byHeader = await TestClient.open(gw.wsUrl, { headers: { authorization: `Bearer ${token}` } });
  assert.equal((await byHeader.next('connected')).data.userId, 'demo-fan-basic');

  const byFrame = await TestClient.open(gw.wsUrl);
  byFrame.send({ type: 'auth', token });
  const c3 = await byFrame.next('connected');
  assert.equal(c3.data.userId, 'demo-fan-basic');
  assert.notEqual(c3.data.connectionId, connected.data.connectionId);

  // The reference ignored the path: `/` works too.
  const atRoot = await TestClient.open(`ws://127.0.0.1:${gw.node.port}/?token=${token}`);
  assert.equal((await atRoot.next('connected')).data.userId, 'demo-fan-basic');
  // The platform's tokens carry the id in `userId`; other issuers may use `sub` alone.
  const subOnly = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('demo-fan-vip').setExpirationTime(now() + 600).sign(key(TEST_SECRET));
  const bySub = await TestClient.open(`${gw.wsUrl}?token=${subOnly}`);
  assert.equal((await bySub.next('connected')).data.userId, 'demo-fan-vip');
  for (const c of [byQuery, byHeader, byFrame, atRoot, bySub]) c.close();
});

test('an `auth` frame sent first with a query token for the same user: one connection, one `connected`', async (t) => {
  const gw = await startGateway(t);
  const queryToken = await gw.token('demo-fan-basic');
  const frameToken = await gw.token('demo-fan-basic', 1200);
  const client = new TestClient(`${gw.wsUrl}?token=${queryToken}`);
  client.socket.on('open', () => client.send({ type: 'auth', token: frameToken }));
  assert.equal((await client.next('connected')).data.userId, 'demo-fan-basic');
  client.send({ type: 'ping' });
  await client.next('pong');
  assert.deepEqual(await client.none((f) => f.type === 'connected' || f.type === 'error', 100), []);
  client.close();
});

test('every bad token closes with 4001 and a short reason', async (t) => {
  const gw = await startGateway(t, { env: { JWT_ISSUER: 'fonana.me', JWT_AUDIENCE: 'fonana-websocket' } });
  const good = (claims: Record<string, unknown> = {}) =>
    new SignJWT({ userId: 'demo-fan-basic', ...claims }).setProtectedHeader({ alg: 'HS256' });
  const valid = await good().setIssuer('fonana.me').setAudience('fonana-websocket').setExpirationTime(now() + 600).sign(key(TEST_SECRET));
  const ok = await TestClient.open(`${gw.wsUrl}?token=${valid}`);
  assert.equal((await ok.next('connected')).data.userId, 'demo-fan-basic', 'the control case connects');
  ok.close();

  const cases: Record<string, { token: string; reason: string }> = {
    'wrong secret': {
      token: await good().setIssuer('fonana.me').setAudience('fonana-websocket').setExpirationTime(now() + 600).sign(key('another-secret-0123456789-abcdefghijk')),
      reason: 'invalid token',
    },
    'alg none': {
      token: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ userId: 'demo-fan-basic', iss: 'fonana.me', aud: 'fonana-websocket', exp: now() + 600 })}.`,
      reason: 'invalid token',
    },
    'HS512 with the right secret (algorithm pinned)': {
      token: await new SignJWT({ userId: 'demo-fan-basic' }).setProtectedHeader({ alg: 'HS512' }).setIssuer('fonana.me').setAudience('fonana-websocket').setExpirationTime(now() + 600).sign(key(TEST_SECRET)),
      reason: 'invalid token',
    },
    expired: {
      token: await good().setIssuer('fonana.me').setAudience('fonana-websocket').setExpirationTime(now() - 60).sign(key(TEST_SECRET)),
      reason: 'token expired',
    },
    'no exp': {
      token: await good().setIssuer('fonana.me').setAudience('fonana-websocket').sign(key(TEST_SECRET)),
      reason: 'invalid token',
    },
    'unknown user': {
      token: await new SignJWT({ userId: 'nobody-here' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('fonana.me').setAudience('fonana-websocket').setExpirationTime(now() + 600).sign(key(TEST_SECRET)),
      reason: 'unknown user',
    },
    'wrong iss': {
      token: await good().setIssuer('evil.example').setAudience('fonana-websocket').setExpirationTime(now() + 600).sign(key(TEST_SECRET)),
      reason: 'invalid token',
    },
    'wrong aud': {
      token: await good().setIssuer('fonana.me').setAudience('other-service').setExpirationTime(now() + 600).sign(key(TEST_SECRET)),
      reason: 'invalid token',
    },
    'garbage': { token: 'not-a-jwt', reason: 'invalid token' },
  };
  for (const [name, { token, reason }] of Object.entries(cases)) {
    for (const [how, result] of [
      ['query', await closeOf(`${gw.wsUrl}?token=${encodeURIComponent(token)}`)],
      ['frame', await closeOf(gw.wsUrl, {}, { type: 'auth', token })],
    ] as const) {
      assert.equal(result.code, 4001, `${name} by ${how}`);
      assert.equal(result.reason, reason, `${name} by ${how}`);
      assert.equal(result.frames.filter((f) => f.type === 'connected').length, 0, `${name} by ${how} never connects`);
    }
  }
  const failures = await gw.node.metrics.authFailures.get();
  const total = failures.values.reduce((n, v) => n + v.value, 0);
  assert.equal(total, Object.keys(cases).length * 2);
});

test('no token: the first frame must be auth, within the timeout', async (t) => {
  const gw = await startGateway(t, { env: { AUTH_TIMEOUT_MS: '300' } });
  const silent = await closeOf(gw.wsUrl);
  assert.deepEqual([silent.code, silent.reason], [4001, 'authentication timeout']);
  const pinger = await closeOf(gw.wsUrl, {}, { type: 'ping' });
  assert.deepEqual([pinger.code, pinger.reason], [4001, 'authentication required']);
});

test('ALLOW_QUERY_TOKEN=false refuses `?token=` but still takes the header and the auth frame', async (t) => {
  const gw = await startGateway(t, { env: { ALLOW_QUERY_TOKEN: 'false' } });
  const token = await gw.token('demo-fan-basic');
  const refused = await closeOf(`${gw.wsUrl}?token=${token}`);
  assert.deepEqual([refused.code, refused.reason], [4001, 'query-string tokens are disabled']);
  const byHeader = await TestClient.open(gw.wsUrl, { headers: { authorization: `Bearer ${token}` } });
  assert.equal((await byHeader.next('connected')).data.userId, 'demo-fan-basic');
  byHeader.close();
});

test('frames sent right after opening, before authentication finished, are all handled in order', async (t) => {
  const gw = await startGateway(t);
  const token = await gw.token('demo-fan-basic');
  for (const mode of ['query', 'frame'] as const) {
    const client = new TestClient(mode === 'query' ? `${gw.wsUrl}?token=${token}` : gw.wsUrl);
    client.socket.on('open', () => {
      if (mode === 'frame') client.send({ type: 'auth', token });
      client.send({ type: 'subscribe', channel: { type: 'notifications', userId: 'demo-fan-basic' } });
      client.send({ type: 'subscribe', channel: 'creator:demo-creator' });
      client.send({ type: 'ping' });
      client.send({ type: 'subscribe', channel: { type: 'post', postId: 'demo-post-basic' } });
    });
    await client.next('connected');
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = await client.next(() => true);
      order.push(f.type === 'subscribed' ? `subscribed:${f.data.channelKey}` : f.type);
    }
    // A ping is answered at once, ahead of frames still waiting for the database; the others keep their order.
    assert.ok(order.includes('pong'), mode);
    assert.deepEqual(
      order.filter((type) => type !== 'pong'),
      ['subscribed:notifications_demo-fan-basic', 'unread_notifications', 'subscribed:creator_demo-creator', 'subscribed:post_demo-post-basic'],
      mode,
    );
    client.close();
  }
});

test('a token that expires while connected closes the socket with 4001 token expired; re-auth extends it', async (t) => {
  const gw = await startGateway(t, { env: { HEARTBEAT_INTERVAL_MS: '100', HEARTBEAT_TIMEOUT_MS: '5000', TOKEN_EXPIRY_GRACE_MS: '0' } });
  // exp has a resolution of one second: 3 s leaves time to open both sockets even on a loaded machine.
  const short = await gw.token('demo-fan-basic', 3);
  const expiring = await TestClient.open(`${gw.wsUrl}?token=${short}`);
  await expiring.next('connected');
  const refreshed = await TestClient.open(`${gw.wsUrl}?token=${short}`);
  await refreshed.next('connected');
  refreshed.send({ type: 'auth', token: await gw.token('demo-fan-basic', 600) });
  const auth = await refreshed.next('authenticated');
  assert.equal(auth.data.userId, 'demo-fan-basic');
  const closed = await expiring.closed;
  assert.deepEqual([closed.code, closed.reason], [4001, 'token expired']);
  await new Promise((r) => setTimeout(r, 300));
  refreshed.send({ type: 'ping' });
  assert.equal((await refreshed.next('pong')).type, 'pong', 'the refreshed socket outlives the first token');
  refreshed.send({ type: 'auth', token: await gw.token('demo-fan-vip', 600) });
  const mismatch = await refreshed.closed;
  assert.deepEqual([mismatch.code, mismatch.reason], [4001, 'token is for another user']);
});

test('a socket that stops answering pings is terminated after the heartbeat timeout', async (t) => {
  // The timeout leaves a loaded machine time to send `connected` (routing, database) before the silent socket goes.
  const gw = await startGateway(t, { env: { HEARTBEAT_INTERVAL_MS: '100', HEARTBEAT_TIMEOUT_MS: '1500' } });
  const token = await gw.token('demo-fan-basic');
  const lively = await TestClient.open(`${gw.wsUrl}?token=${token}`);
  // The silent socket's last sign of life is its upgrade (`connected` may come later: routing, checks).
  const opened = Date.now();
  const silent = await TestClient.open(`${gw.wsUrl}?token=${token}`, { autoPong: false });
  await Promise.all([lively.next('connected'), silent.next('connected')]);
  const closed = await silent.closed;
  assert.equal(closed.code, 1006, 'terminated without a close frame');
  assert.ok(Date.now() - opened >= 1500, 'not before the timeout');
  lively.send({ type: 'ping' });
  assert.equal((await lively.next('pong')).type, 'pong', 'a socket that answers pings stays');
  lively.close();
});

test('MAX_SOCKETS_PER_USER bounds the sockets of one user (4008)', async (t) => {
  const gw = await startGateway(t, { env: { MAX_SOCKETS_PER_USER: '2' } });
  await gw.connect('demo-fan-basic');
  await gw.connect('demo-fan-basic');
  const third = await closeOf(`${gw.wsUrl}?token=${await gw.token('demo-fan-basic')}`);
  assert.deepEqual([third.code, third.reason], [4008, 'too many connections for this user']);
  await gw.connect('demo-fan-vip');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { EncryptJWT } from 'jose';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../src/config/config.ts';
import { startGateway, TEST_SECRET } from './helpers/gateway.ts';
import { TestClient } from './helpers/ws-client.ts';

const APP = 'https://app.example';
const COOKIE_ENV = { ACCEPT_SESSION_COOKIE: 'true', ALLOWED_ORIGINS: APP };

/** Seals a session the way next-auth v4's `encode` does (jwt/index.ts): HKDF key, JWE dir/A256GCM, iat, exp, jti. */
async function nextAuthSession(claims: Record<string, unknown>, secret = TEST_SECRET, maxAgeSeconds = 30 * 24 * 3600): Promise<string> {
  const key = new Uint8Array(hkdfSync('sha256', secret, '', 'NextAuth.js Generated Encryption Key', 32));
  const now = (Date.now() / 1000) | 0;
  return new EncryptJWT(claims)
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setIssuedAt()
    .setExpirationTime(now + maxAgeSeconds)
    .setJti(randomUUID())
    .encrypt(key);
}

/** The Set-Cookie pairs next-auth v4's SessionStore writes: one cookie, or `.0`, `.1`, … of 3933 characters each. */
function cookiePairs(name: string, value: string): string[] {
  const CHUNK = 4096 - 163;
  if (value.length + name.length <= CHUNK) return [`${name}=${value}`];
  const pairs: string[] = [];
  for (let i = 0; i * CHUNK < value.length; i++) pairs.push(`${name}.${i}=${value.slice(i * CHUNK, (i + 1) * CHUNK)}`);
  return pairs;
}

function openWith(url: string, headers: Record<string, string>): Promise<TestClient> {
  return TestClient.open(url, { headers });
}

/** The HTTP status of an upgrade the server refuses. */
async function refusedStatus(url: string, headers: Record<string, string>): Promise<number> {
  const ws = new WebSocket(url, { headers });
  ws.on('error', () => {});
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
  ws.terminate();
  return res.statusCode;
}

test('a NextAuth v4 session cookie alone connects, plain and chunked __Secure-', async (t) => {
  const gw = await startGateway(t, { env: COOKIE_ENV });
  const plain = await nextAuthSession({ name: 'Fan', email: null, picture: null, sub: 'demo-fan-basic' });
  const client = await openWith(gw.wsUrl, { Origin: APP, Cookie: `theme=dark; ${cookiePairs('next-auth.session-token', plain)[0]}` });
  const connected = await client.next('connected');
  assert.equal(connected.data.userId, 'demo-fan-basic');
  client.send({ type: 'subscribe', channel: 'notifications:demo-fan-basic' });
  assert.equal((await client.next('subscribed')).data.channelKey, 'notifications_demo-fan-basic');
  client.close();

  // A session big enough to be split the way NextAuth splits it (a large `picture`, as OAuth providers give).
  const big = await nextAuthSession({ sub: 'demo-fan-vip', picture: `https://cdn.example/${'p'.repeat(6000)}` });
  const pairs = cookiePairs('__Secure-next-auth.session-token', big);
  assert.ok(pairs.length >= 2, `chunked into ${pairs.length}`);
  const chunked = await openWith(gw.wsUrl, { Origin: APP, Cookie: ['a=1', ...pairs.reverse(), 'b=2'].join('; ') });
  assert.equal((await chunked.next('connected')).data.userId, 'demo-fan-vip');
  chunked.close();

  const byUserIdClaim = await nextAuthSession({ userId: 'demo-creator' });
  const viaUserId = await openWith(gw.wsUrl, { Origin: APP, Cookie: `next-auth.session-token=${byUserIdClaim}` });
  assert.equal((await viaUserId.next('connected')).data.userId, 'demo-creator');
  viaUserId.close();
});

test('a session sealed with another secret, expired, or for no known user is refused with 4001', async (t) => {
  const gw = await startGateway(t, { env: COOKIE_ENV });
  const cases: [string, string][] = [
    [await nextAuthSession({ sub: 'demo-fan-basic' }, 'another-secret-0123456789-abcdefghijklmn'), 'invalid token'],
    [await nextAuthSession({ sub: 'demo-fan-basic' }, TEST_SECRET, -60), 'token expired'],
    [await nextAuthSession({ sub: 'nobody-here' }), 'unknown user'],
    [await nextAuthSession({ name: 'no id at all' }), 'invalid token'],
    ['not-a-jwe', 'invalid token'],
  ];
  for (const [sealed, reason] of cases) {
    const client = await openWith(gw.wsUrl, { Origin: APP, Cookie: `next-auth.session-token=${sealed}` });
    const closed = await client.closed;
    assert.deepEqual([closed.code, closed.reason], [4001, reason]);
  }
});

test('a session cookie from a foreign Origin, or with none, is refused at the upgrade', async (t) => {
  const gw = await startGateway(t, { env: COOKIE_ENV });
  const cookie = `next-auth.session-token=${await nextAuthSession({ sub: 'demo-fan-basic' })}`;
  assert.equal(await refusedStatus(gw.wsUrl, { Origin: 'https://evil.example', Cookie: cookie }), 403);
  assert.equal(await refusedStatus(gw.wsUrl, { Cookie: cookie }), 403);
});

test('session cookies are ignored unless ACCEPT_SESSION_COOKIE=true, which requires ALLOWED_ORIGINS', async (t) => {
  const gw = await startGateway(t, { env: { ALLOWED_ORIGINS: APP } });
  const cookie = `next-auth.session-token=${await nextAuthSession({ sub: 'demo-fan-basic' })}`;
  const client = await openWith(gw.wsUrl, { Origin: APP, Cookie: cookie });
  client.send({ type: 'ping' });
  const closed = await client.closed;
  assert.deepEqual([closed.code, closed.reason], [4001, 'authentication required']);

  assert.throws(
    () => loadConfig({ NEXTAUTH_SECRET: TEST_SECRET, ACCEPT_SESSION_COOKIE: 'true' }),
    (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('ACCEPT_SESSION_COOKIE: requires ALLOWED_ORIGINS')),
  );
});

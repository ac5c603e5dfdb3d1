/** The SDK against a real gateway on loopback: connection, subscriptions, reconnects, token refresh, jitter. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { EventFrame } from '@fonana-realtime/protocol';
import { startGateway } from '../../server/test/helpers/gateway.ts';
import { clientFor, next, startRestartableGateway } from './helpers.ts';

test('connects with the first frame, subscribes, and delivers every event of a burst of one type in order', async (t) => {
  const g = await startGateway(t);
  const client = clientFor(t, g, 'demo-fan-none');
  const states: string[] = [];
  client.on('state', ({ state }) => states.push(state));
  const sub = client.subscribe('creator:demo-creator');
  await next(sub, 'state', (s) => s === 'subscribed', 10_000, 'subscribed');
  assert.equal(client.state, 'connected');
  assert.equal(client.userId, 'demo-fan-none');
  assert.deepEqual(states, ['connected']); // 'connecting' was the state before any listener
  assert.deepEqual(client.tokenCalls, ['connect']);

  const received: EventFrame[] = [];
  const all = new Promise<void>((resolve) =>
    sub.on('event', (frame) => {
      received.push(frame);
      if (received.length === 20) resolve();
    }),
  );
  for (let n = 0; n < 20; n++) {
    const res = await g.api('/v1/publish', { channel: 'creator:demo-creator', type: 'post-liked', data: { n } });
    assert.equal(res.status, 200);
  }
  await all;
  // No throttling by type: 20 events of one type within milliseconds all arrive, in order.
  assert.deepEqual(received.map((f) => (f.data as { n: number }).n), [...Array(20).keys()]);
  assert.equal(new Set(received.map((f) => f.id)).size, 20);
});

test('a subscription the server refuses ends with the code and is not repeated', async (t) => {
  const g = await startGateway(t);
  const client = clientFor(t, g, 'demo-fan-none');
  const sub = client.subscribe({ type: 'post', postId: 'demo-post-vip' });
  const ended = await next(sub, 'ended');
  assert.equal(ended.reason, 'GW_ERR_CHANNEL_FORBIDDEN');
  assert.equal(sub.state, 'failed');
});

test('after a server restart: reconnects with a fresh getToken, resubscribes, and reports the gap it could not replay', async (t) => {
  const g = await startRestartableGateway(t);
  const client = clientFor(t, g, 'demo-fan-none', { backoff: { minMs: 200, maxMs: 1000 } });
  const sub = client.subscribe('creator:demo-creator');
  await next(sub, 'state', (s) => s === 'subscribed');

  const disconnected = next(client, 'disconnected');
  await g.stop();
  const close = await disconnected;
  assert.equal(close.code, 1012);
  assert.equal(close.willReconnect, true);
  assert.equal(client.state, 'reconnecting');
  assert.equal(sub.state, 'subscribing');

  // Events sent while the server is down and the cursor does not allow replay: the app is told to refetch.
  const corrupt = sub.cursor;
  if (corrupt) corrupt.epoch = 'an-epoch-the-server-never-had';
  const recovery = next(sub, 'recovery', () => true, 20_000, 'recovery');
  const resubscribed = next(sub, 'state', (s) => s === 'subscribed', 20_000, 'resubscribed');
  await g.start();
  assert.deepEqual(await recovery, { channel: 'creator_demo-creator', recovered: false });
  await resubscribed;
  assert.equal(client.state, 'connected');
  assert.ok(client.tokenCalls.length >= 2 && client.tokenCalls.slice(1).every((r) => r === 'reconnect'), client.tokenCalls.join());

  // Live again on the new node.
  const live = next(sub, 'event', (f) => (f.type as string) === 'after-restart');
  await g.current.api('/v1/publish', { channel: 'creator:demo-creator', type: 'after-restart', data: {} });
  assert.equal((await live).type, 'after-restart');
});

test('refreshes the token in band before it expires: the socket and its subscriptions stay', async (t) => {
  const g = await startGateway(t);
  // 3 s tokens: the refresh happens at 2.25 s; the server would close an expired one with 4001.
  const client = clientFor(t, g, 'demo-fan-none', { ttlSeconds: 3 });
  const sub = client.subscribe('creator:demo-creator');
  const connected = await next(client, 'connected');
  let disconnects = 0;
  client.on('disconnected', () => disconnects++);
  const first = await next(client, 'authenticated', () => true, 15_000, 'first refresh');
  const second = await next(client, 'authenticated', () => true, 15_000, 'second refresh');
  assert.equal(first.userId, 'demo-fan-none');
  assert.ok(second.expiresAt > first.expiresAt, 'each refresh carries a later expiry');
  assert.equal(disconnects, 0);
  assert.equal(client.state, 'connected');
  // Each refresh asked getToken with reason 'refresh' (the server's token-expiring may ask once more); never a reconnect.
  assert.equal(client.tokenCalls[0], 'connect');
  assert.ok(client.tokenCalls.length >= 3 && client.tokenCalls.slice(1).every((r) => r === 'refresh'), client.tokenCalls.join());
  // The original connection still carries the subscription past the first token's expiry.
  const live = next(sub, 'event');
  await g.api('/v1/publish', { channel: 'creator:demo-creator', type: 'still-here', data: {} });
  assert.equal((await live).type, 'still-here');
  assert.ok(connected.connectionId);
});

test('a getToken that keeps returning the same token is not called in a loop', async (t) => {
  const g = await startGateway(t, { env: { HEARTBEAT_INTERVAL_MS: '1000', TOKEN_EXPIRY_GRACE_MS: '0' } });
  const token = await g.token('demo-fan-none', 3);
  const calls: string[] = [];
  const client = clientFor(t, g, 'demo-fan-none', {
    getToken: (reason) => {
      calls.push(reason);
      return token;
    },
  });
  await next(client, 'connected', () => true, 30_000);
  // Expires at 3 s: the server closes with 4001, and the client asks again with reason 'rejected'.
  const closed = await next(client, 'disconnected', () => true, 10_000, 'expiry close');
  assert.equal(closed.code, 4001);
  const refreshes = calls.filter((r) => r === 'refresh').length;
  assert.ok(refreshes >= 1 && refreshes <= 6, `refresh asked ${refreshes} times in 3 s: ${calls.join()}`);
  // The reconnect asks for a new token (the same one comes back: refused again, and the loop goes on with backoff).
  const again = await next(client, 'disconnected', () => true, 10_000);
  assert.equal(again.code, 4001);
  assert.ok(calls.includes('rejected'), calls.join());
});

test('closed with 4002 by the server: reconnects only with a new token', async (t) => {
  const g = await startGateway(t);
  const client = clientFor(t, g, 'demo-fan-none', { backoff: { minMs: 200, maxMs: 1000 } });
  const first = await next(client, 'connected');
  const closed = next(client, 'disconnected');
  const res = await g.api('/v1/users/demo-fan-none/disconnect', {});
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const close = await closed;
  assert.equal(close.code, 4002);
  assert.equal(close.willReconnect, true);
  // Tokens issued before the disconnect are refused (4001) until getToken returns one issued after it.
  const again = await next(client, 'connected', () => true, 20_000);
  assert.notEqual(again.connectionId, first.connectionId);
  assert.equal(client.tokenCalls[1], 'rejected');
});

test('reconnect delays are spread by full jitter, not in step', async (t) => {
  const g = await startRestartableGateway(t);
  const N = 40;
  // Spread over users: a user may hold 20 sockets by default.
  const users = ['demo-fan-none', 'demo-fan-free', 'demo-fan-basic', 'demo-fan-premium'];
  const clients = Array.from({ length: N }, (_, i) => clientFor(t, g, users[i % users.length]!, { backoff: { minMs: 1500, maxMs: 3000 } }));
  await Promise.all(clients.map((c) => (c.state === 'connected' ? null : next(c, 'connected', () => true, 20_000))));
  // The delay each client chose for its first attempt after the server closed it (the gateway shares this process,
  // so when its attempt actually ran depends on the event loop; the choice does not).
  const chosen = Promise.all(clients.map((c) => next(c, 'reconnecting', () => true, 20_000)));
  const reconnected = Promise.all(clients.map((c) => next(c, 'connected', () => true, 30_000)));
  await g.stop();
  await g.start();
  const first = await chosen;
  await reconnected;
  assert.ok(first.every((r) => r.attempt === 1));
  const delays = first.map((r) => r.delayMs).sort((a, b) => a - b);
  const p10 = delays[Math.floor(N * 0.1)]!;
  const p90 = delays[Math.floor(N * 0.9)]!;
  const buckets = new Set(delays.map((d) => Math.floor(d / 150)));
  t.diagnostic(`first reconnect delays (ms): min ${delays[0]} p10 ${p10} p90 ${p90} max ${delays.at(-1)}, ${buckets.size} of 10 buckets of 150 ms`);
  // Full jitter over [0, 1.5 s): 40 draws fill most of the window (a fixed or half jitter would not).
  assert.ok(delays.at(-1)! < 1500 && delays[0]! >= 0);
  assert.ok(p90 - p10 >= 600, `spread p10..p90 only ${p90 - p10} ms`);
  assert.ok(buckets.size >= 6, `delays fell in only ${buckets.size} buckets`);
  assert.ok(new Set(delays).size >= N - 5, 'delays are not in step');
});

test('offline stops the loop; online reconnects at once', async (t) => {
  const g = await startGateway(t);
  const target = new EventTarget();
  const saved = { addEventListener: (globalThis as any).addEventListener, removeEventListener: (globalThis as any).removeEventListener };
  // A browser-like window for this client only: online/offline events and navigator.onLine.
  (globalThis as any).addEventListener = target.addEventListener.bind(target);
  (globalThis as any).removeEventListener = target.removeEventListener.bind(target);
  const nav = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  let onLine = true;
  Object.defineProperty(globalThis, 'navigator', { configurable: true, get: () => ({ onLine }) });
  t.after(() => {
    Object.assign(globalThis, saved);
    if (nav) Object.defineProperty(globalThis, 'navigator', nav);
    else delete (globalThis as any).navigator;
  });
  const client = clientFor(t, g, 'demo-fan-none', { backoff: { minMs: 60_000, maxMs: 60_000 } });
  await next(client, 'connected');
  onLine = false;
  target.dispatchEvent(new Event('offline'));
  assert.equal(client.state, 'offline');
  onLine = true;
  const back = next(client, 'connected', () => true, 5000, 'connected again at once');
  target.dispatchEvent(new Event('online'));
  await back; // with a 60 s backoff, only "at once" makes it within 5 s
  assert.equal(client.state, 'connected');
});

test('an attempt that never completes the handshake is dropped after connectTimeoutMs, and retried', async (t) => {
  // A TCP listener that accepts and never answers: the WebSocket stays CONNECTING.
  const held: Socket[] = [];
  const server = createServer((socket) => held.push(socket)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of held) s.destroy();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const client = clientFor(t, { wsUrl: `ws://127.0.0.1:${port}/ws`, token: async () => 'x.e30.y' } as never, 'nobody', {
    connectTimeoutMs: 300,
    backoff: { minMs: 50, maxMs: 100 },
  });
  const dropped = await next(client, 'disconnected', () => true, 5000);
  assert.equal(dropped.reason, 'connect timeout');
  assert.equal(dropped.willReconnect, true);
  // Closing a CONNECTING `ws` socket emits 'error': the process must not die of it, and the loop goes on.
  const again = await next(client, 'disconnected', () => true, 5000);
  assert.equal(again.reason, 'connect timeout');
  assert.ok(held.length >= 2);
});

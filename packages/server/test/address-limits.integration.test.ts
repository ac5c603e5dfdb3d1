import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { get } from 'node:http';
import { startGateway } from './helpers/gateway.ts';
import { TestClient } from './helpers/ws-client.ts';

const UPGRADE = (port: number) =>
  `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

interface Raw {
  socket: Socket;
  /** The first line the server answered, '' while none. */
  status: string;
  closed: boolean;
}

/** Opens `count` TCP connections from `localAddress`, each sending `payload` and then nothing more. */
async function openRaw(port: number, count: number, payload: string, localAddress = '127.0.0.1'): Promise<Raw[]> {
  const raws: Raw[] = [];
  const opened: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    const raw: Raw = { socket, status: '', closed: false };
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      if (!raw.status) raw.status = chunk.toString('latin1').split('\r\n')[0]!;
    });
    socket.on('close', () => (raw.closed = true));
    opened.push(once(socket, 'connect').then(() => socket.write(payload), () => {}));
    raws.push(raw);
  }
  await Promise.all(opened);
  return raws;
}

async function metric(port: number, name: string, label: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${label}}`));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Polls `check` every 20 ms until it is true or `ms` passed; returns the last result. */
async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return check();
}

test('3,000 idle upgrades from one address are capped; a client from another address connects within 1 s', async (t) => {
  // Default limits: 1000 connections, 50 unauthenticated sockets and 50 upgrades a second per address.
  const gw = await startGateway(t);
  const port = gw.node.port;
  const token = await gw.token('demo-fan-vip');
  /** A client from 127.0.0.2: connected within `ms` of opening. */
  const connectOther = async (ms: number) => {
    const started = Date.now();
    const other = await TestClient.open(`${gw.wsUrl}?token=${token}`, { localAddress: '127.0.0.2' });
    t.after(() => other.close());
    assert.equal((await other.next('connected', ms)).data.userId, 'demo-fan-vip');
    assert.ok(Date.now() - started < ms, `connected after ${Date.now() - started} ms`);
    return other;
  };

  // Complete upgrade requests that never authenticate: at most 50 become sockets, the rest get 429.
  const idle = await openRaw(port, 3000, UPGRADE(port));
  t.after(() => idle.forEach((r) => r.socket.destroy()));
  await connectOther(10_000); // while the burst is being answered (bounded loosely: the machine is shared)
  assert.ok(await eventually(() => idle.every((r) => r.status !== '' || r.closed), 20_000), 'every one answered');
  await connectOther(1000); // while the capped ones sit idle
  const upgraded = idle.filter((r) => r.status.startsWith('HTTP/1.1 101')).length;
  const limited = idle.filter((r) => r.status.startsWith('HTTP/1.1 429')).length;
  assert.ok(upgraded <= 50, `${upgraded} upgraded`);
  assert.equal(upgraded + limited + idle.filter((r) => r.status === '' && r.closed).length, 3000);
  assert.ok(gw.node.gateway.socketCount <= 52, `${gw.node.gateway.socketCount} sockets held`);

  // Upgrade requests whose headers never finish: at most 1000 connections stay open, the rest are closed at once.
  const halfOpen = await openRaw(port, 3000, `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n`);
  t.after(() => halfOpen.forEach((r) => r.socket.destroy()));
  assert.ok(
    await eventually(() => halfOpen.filter((r) => r.closed).length >= 2000, 20_000),
    `${halfOpen.filter((r) => r.closed).length} of the half-open connections closed`,
  );
  const held = halfOpen.filter((r) => !r.closed).length;
  assert.ok(held <= 1000, `${held} half-open connections held`);
  const other = await connectOther(1000);

  const metricsPort = gw.node.metricsPort;
  // Most of the 2,000 over the limit are closed by the gateway; under load the kernel may refuse some before that.
  const overLimit = await metric(metricsPort, 'realtime_address_refusals_total', 'code="GW_ERR_ADDRESS_SOCKET_LIMIT"');
  assert.ok(overLimit >= 1000, `${overLimit} closed for GW_ERR_ADDRESS_SOCKET_LIMIT`);
  const rate = await metric(metricsPort, 'realtime_address_refusals_total', 'code="GW_ERR_ADDRESS_RATE_LIMITED"');
  const unauthenticated = await metric(metricsPort, 'realtime_address_refusals_total', 'code="GW_ERR_ADDRESS_UNAUTHENTICATED_LIMIT"');
  assert.equal(rate + unauthenticated, limited);
  other.send({ type: 'ping' });
  assert.equal((await other.next('pong')).type, 'pong');
  // Health checks from another address still get through (127.0.0.1 itself is at its connection limit).
  const health = get(`${gw.httpUrl}/healthz`, { localAddress: '127.0.0.2', timeout: 2000 });
  const [res] = (await once(health, 'response')) as [import('node:http').IncomingMessage];
  res.resume();
  assert.equal(res.statusCode, 200);
});

test('each per-address limit answers its own code; X-Forwarded-For counts only from TRUSTED_PROXIES', async (t) => {
  const gw = await startGateway(t, {
    env: { MAX_UNAUTHENTICATED_PER_ADDRESS: '2', MAX_SOCKETS_PER_ADDRESS: '3', MAX_CONNECT_RATE_PER_ADDRESS: '1000', TRUSTED_PROXIES: '127.0.0.3' },
  });
  const refusal = async (localAddress: string, headers: Record<string, string> = {}) => {
    const client = new TestClient(gw.wsUrl, { localAddress, headers });
    const [, res] = (await once(client.socket, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    let body = '';
    for await (const chunk of res) body += chunk;
    return [res.statusCode, JSON.parse(body).error.code];
  };
  const idle = [new TestClient(gw.wsUrl, { localAddress: '127.0.0.4' }), new TestClient(gw.wsUrl, { localAddress: '127.0.0.4' })];
  t.after(() => idle.forEach((c) => c.close()));
  await Promise.all(idle.map((c) => once(c.socket, 'open')));
  assert.deepEqual(await refusal('127.0.0.4'), [429, 'GW_ERR_ADDRESS_UNAUTHENTICATED_LIMIT']);

  const token = await gw.token('demo-fan-basic');
  const fromProxy = { 'x-forwarded-for': '203.0.113.7' };
  // One after the other: three sockets still authenticating at once would meet the unauthenticated limit (2) first.
  const viaProxy: TestClient[] = [];
  t.after(() => viaProxy.forEach((c) => c.close()));
  for (let i = 0; i < 3; i++) {
    const client = await TestClient.open(`${gw.wsUrl}?token=${token}`, { localAddress: '127.0.0.3', headers: fromProxy });
    viaProxy.push(client);
    await client.next('connected');
  }
  assert.deepEqual(await refusal('127.0.0.3', fromProxy), [429, 'GW_ERR_ADDRESS_SOCKET_LIMIT'], 'the forwarded address is counted');
  const another = await TestClient.open(`${gw.wsUrl}?token=${token}`, { localAddress: '127.0.0.3', headers: { 'x-forwarded-for': '203.0.113.8' } });
  t.after(() => another.close());
  assert.equal((await another.next('connected')).type, 'connected', 'another client behind the same proxy');

  // From a peer that is not a trusted proxy the header is ignored: 127.0.0.4 is still over its limit.
  assert.deepEqual(await refusal('127.0.0.4', { 'x-forwarded-for': '198.51.100.1' }), [429, 'GW_ERR_ADDRESS_UNAUTHENTICATED_LIMIT']);
});

test('MAX_CONNECT_RATE_PER_ADDRESS bounds upgrade requests per second (429 GW_ERR_ADDRESS_RATE_LIMITED)', async (t) => {
  const gw = await startGateway(t, { env: { MAX_CONNECT_RATE_PER_ADDRESS: '5' } });
  const raws = await openRaw(gw.node.port, 20, UPGRADE(gw.node.port), '127.0.0.5');
  t.after(() => raws.forEach((r) => r.socket.destroy()));
  assert.ok(await eventually(() => raws.every((r) => r.status !== ''), 5000));
  const statuses = raws.map((r) => r.status.slice(9, 12));
  // One second window: at most 5 per window, and the 20 may straddle two windows.
  assert.ok(statuses.filter((s) => s === '101').length <= 10, statuses.join(','));
  assert.ok(statuses.filter((s) => s === '429').length >= 10, statuses.join(','));
});

test('a request whose headers never finish is closed after HEADERS_TIMEOUT_MS', async (t) => {
  const gw = await startGateway(t, { env: { HEADERS_TIMEOUT_MS: '1000' } });
  const [raw] = await openRaw(gw.node.port, 1, 'GET /ws HTTP/1.1\r\nHost: x\r\n', '127.0.0.6');
  t.after(() => raw!.socket.destroy());
  const started = Date.now();
  await once(raw!.socket, 'close');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 900 && elapsed < 4000, `closed after ${elapsed} ms`);
  assert.equal((await fetch(`${gw.httpUrl}/healthz`)).status, 200);
});

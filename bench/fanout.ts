/**
 * Fan-out: one event to K sockets of a `creator` channel, from the hub's hand-over until the last socket has it.
 * Peer in the same run: a bare `ws` server broadcasting the same frame text to K clients with
 * `for (const c of wss.clients) c.send(text)` (the ws README's broadcast), i.e. no registry, no ACL, no dedupe.
 * Clients are in this process too, so both sides pay the same receiving cost; the ratio is the gateway's overhead.
 * Rounds alternate between the gateway and the peer.
 *
 * Run: node --import tsx bench/fanout.ts [sockets=500] [rounds=50] [payloadBytes=1024]
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { loadConfig } from '../packages/server/src/config/config.ts';
import { sql } from 'drizzle-orm';
import { openDatabase, queryRows } from '../packages/server/src/db/client.ts';
import { migrate } from '../packages/server/src/db/migrate.ts';
import { seed } from '../packages/server/src/db/seed.ts';
import { createLogger } from '../packages/server/src/logger.ts';
import { GatewayNode } from '../packages/server/src/node.ts';
import { mintToken } from '../packages/server/src/auth/tokens.ts';

const SOCKETS = Number(process.argv[2] ?? 500);
const ROUNDS = Number(process.argv[3] ?? 50);
const PAYLOAD = Number(process.argv[4] ?? 1024);
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';

/** Resolves when every socket has received one more message. */
function arrivals(sockets: WebSocket[]): Promise<void> {
  let left = sockets.length;
  return new Promise((resolve) => {
    for (const s of sockets) s.once('message', () => --left === 0 && resolve());
  });
}

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

// The hub delivers a channel's events strictly in offset order, so each frame takes the next offset.
let lastOffset = 0;
const frameFor = () =>
  JSON.stringify({ type: 'creator_updated', id: `evt-${Math.random()}`, channel: 'creator_demo-creator', offset: ++lastOffset, ts: Date.now(), data: { blob: 'x'.repeat(PAYLOAD) } });

// --- the gateway
const db = await openDatabase({});
await migrate(db);
await seed(db);
const config = loadConfig({
  NEXTAUTH_SECRET: SECRET,
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'silent',
  MIGRATE_ON_START: 'false',
  MAX_SOCKETS_PER_USER: String(SOCKETS),
  // Every benchmark client comes from one loopback address: lift the per-address limits meant to stop that.
  MAX_SOCKETS_PER_ADDRESS: '100000',
  MAX_UNAUTHENTICATED_PER_ADDRESS: '100000',
  MAX_CONNECT_RATE_PER_ADDRESS: '100000',
});
const node = await GatewayNode.start({ config, logger: createLogger('silent'), secret: SECRET, db, metrics: false });
const token = await mintToken('demo-fan-vip', { secret: SECRET, expiresInSeconds: 3600 });
lastOffset = (await queryRows<{ o: number }>(db.orm, sql`select coalesce(max(last_offset), 0)::int as o from realtime.channel_offsets where channel = 'creator_demo-creator'`))[0]!.o;
const gatewayClients: WebSocket[] = [];
for (let i = 0; i < SOCKETS; i++) {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/ws?token=${token}`);
  await once(ws, 'message'); // connected
  ws.send(JSON.stringify({ type: 'subscribe', channel: 'creator:demo-creator' }));
  await once(ws, 'message'); // subscribed
  gatewayClients.push(ws);
}
// --- the peer: a bare ws broadcast
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
await once(wss, 'listening');
const port = (wss.address() as AddressInfo).port;
const peerClients: WebSocket[] = [];
for (let i = 0; i < SOCKETS; i++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  await once(ws, 'open');
  peerClients.push(ws);
}

// Rounds alternate between the two, so both see the same machine load, JIT state and GC pressure.
const gatewayTimes: number[] = [];
const peerTimes: number[] = [];
const brokerTimes: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const encoded = frameFor();
  let done = arrivals(gatewayClients);
  let started = performance.now();
  node.hub.deliver({ id: JSON.parse(encoded).id, channel: 'creator_demo-creator', type: 'creator_updated', offset: lastOffset, encoded });
  await done;
  gatewayTimes.push(performance.now() - started);

  done = arrivals(peerClients);
  started = performance.now();
  for (const c of wss.clients) c.send(encoded);
  await done;
  peerTimes.push(performance.now() - started);

  const viaBroker = frameFor();
  done = arrivals(gatewayClients);
  started = performance.now();
  await node.broker.publish([{ id: JSON.parse(viaBroker).id, channel: 'creator_demo-creator', type: 'creator_updated', offset: lastOffset, encoded: viaBroker }]);
  await done;
  brokerTimes.push(performance.now() - started);
}
for (const ws of [...gatewayClients, ...peerClients]) ws.terminate();
wss.close();
await node.shutdown(0);
await db.close();

const g = median(gatewayTimes.slice(5));
const p = median(peerTimes.slice(5));
const b = median(brokerTimes.slice(5));
console.log(`sockets: ${SOCKETS}, rounds: ${ROUNDS} (first 5 dropped), payload: ${PAYLOAD} B`);
console.log('| server | median ms to the last socket | per socket µs | vs bare ws |');
console.log('|---|---:|---:|---:|');
console.log(`| fonana-realtime (hub → sockets) | ${g.toFixed(2)} | ${((g / SOCKETS) * 1000).toFixed(1)} | ${(g / p).toFixed(2)}× |`);
console.log(`| fonana-realtime (memory broker → hub → sockets) | ${b.toFixed(2)} | ${((b / SOCKETS) * 1000).toFixed(1)} | ${(b / p).toFixed(2)}× |`);
console.log(`| bare ws broadcast (peer) | ${p.toFixed(2)} | ${((p / SOCKETS) * 1000).toFixed(1)} | 1.00× |`);

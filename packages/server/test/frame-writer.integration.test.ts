/**
 * The coalesced write path (gateway/frame-writer.ts) against real sockets: frames of one turn arrive whole and in
 * order (small, 16-bit and 64-bit lengths, interleaved with control frames), a turn's frames go out in one write at
 * the end of that event-loop iteration (no timer), queued frames go out before a close frame, and the slow-consumer
 * limit counts queued bytes and the bytes a socket that stopped reading still holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { encodeFrame } from '@fonana-realtime/protocol';
import type { Connection } from '../src/gateway/connection.ts';
import { holdFlushUntil } from '../src/gateway/frame-writer.ts';
import { startGateway } from './helpers/gateway.ts';

let seq = 0;
/** Offsets per channel: each test's gateway starts on a fresh database, where every channel's head is 0. */
const offsets = new Map<string, number>();
/** The hub delivers a channel's events in offset order and holds any after a hole, so offsets must be consecutive. */
function event(userId: string, blobBytes: number) {
  const id = `fw-${++seq}`;
  const channel = `user_${userId}`;
  const offset = (offsets.get(channel) ?? 0) + 1;
  offsets.set(channel, offset);
  const frame = { type: 'bench', id, channel, offset, ts: Date.now(), data: { n: seq, blob: 'x'.repeat(blobBytes) } };
  return { id, channel, type: frame.type, offset, encoded: encodeFrame(frame as never) };
}
const TIMEOUT = { timeout: 60_000 };

const only = (set: Iterable<Connection>): Connection => [...set][0]!;
const rawSocket = (conn: Connection) => (conn.socket as unknown as { _socket: Socket })._socket;

test('frames of one turn reach every socket whole and in order, events and control frames alike', TIMEOUT, async (t) => {
  offsets.clear();
  const gw = await startGateway(t);
  const clients = await Promise.all([1, 2, 3].map(() => gw.connect('demo-fan-vip')));
  const conns = [...gw.node.hub.userConnections('demo-fan-vip')];
  const sizes = [0, 10, 200, 130, 70_000, 5, 65_600, 300];
  const sent: number[] = [];
  for (let i = 0; i < 24; i++) {
    const message = event('demo-fan-vip', sizes[i % sizes.length]!);
    sent.push(seq);
    gw.node.hub.deliver(message);
    if (i === 12) for (const c of conns) c.sendFrame({ type: 'pong', data: { serverTime: 1 } });
  }
  for (const client of clients) {
    const got: unknown[] = [];
    for (let i = 0; i < 25; i++) {
      const f = await client.next((f) => f.type === 'bench' || f.type === 'pong', 10_000);
      got.push(f.type === 'pong' ? 'pong' : f.data.n);
    }
    assert.deepEqual(got, [...sent.slice(0, 13), 'pong', ...sent.slice(13)]);
  }
});

test("a turn's frames go out in one write at the end of the same loop iteration; queued frames go out before a close frame", TIMEOUT, async (t) => {
  offsets.clear();
  const gw = await startGateway(t);
  const client = await gw.connect('demo-fan-basic');
  const conn = only(gw.node.hub.userConnections('demo-fan-basic'));
  await new Promise((r) => setImmediate(r));
  const socket = rawSocket(conn);
  const write = socket.write;
  let writes = 0;
  socket.write = ((...args: Parameters<Socket['write']>) => (writes++, write.apply(socket, args))) as Socket['write'];
  const before = socket.bytesWritten;
  for (let i = 0; i < 3; i++) conn.sendEncoded(Buffer.from(event('demo-fan-basic', 50).encoded));
  assert.equal(writes, 0, 'queued, not written frame by frame');
  await new Promise((r) => setImmediate(r)); // queued after the flush's own setImmediate: runs right after it
  assert.equal(writes, 1, 'three frames, one write');
  assert.ok(socket.bytesWritten > before + 3 * 50);
  for (let i = 0; i < 3; i++) conn.sendEncoded(Buffer.from(event('demo-fan-basic', 50).encoded));
  conn.close('GW_ERR_SERVER_RESTART');
  const closed = await client.closed;
  assert.equal(closed.code, 1012);
  assert.equal(client.frames.filter((f) => f.type === 'bench').length, 6, 'every queued event arrived before the close');
});

test('a flush due while a commit of events is in flight waits for it (one write for both), and for at most 5 ms', TIMEOUT, async (t) => {
  offsets.clear();
  const gw = await startGateway(t);
  const client = await gw.connect('demo-fan-basic');
  const conn = only(gw.node.hub.userConnections('demo-fan-basic'));
  await new Promise((r) => setTimeout(r, 50));
  const socket = rawSocket(conn);
  const write = socket.write;
  const writes: number[] = [];
  socket.write = ((...args: Parameters<Socket['write']>) => (writes.push(performance.now()), write.apply(socket, args))) as Socket['write'];
  const turn = () => new Promise((r) => setImmediate(r));

  let settle!: () => void;
  holdFlushUntil(new Promise<void>((r) => (settle = r)));
  conn.sendEncoded(Buffer.from(event('demo-fan-basic', 50).encoded));
  await turn();
  await turn();
  assert.equal(writes.length, 0, 'held while the commit is in flight');
  conn.sendEncoded(Buffer.from(event('demo-fan-basic', 50).encoded)); // the commit's event
  settle();
  for (let i = 0; i < 4 && writes.length === 0; i++) await turn();
  assert.equal(writes.length, 1, 'both frames in one write once the commit settled');

  // A commit that does not settle holds the flush for 5 ms at most.
  let settleLate!: () => void;
  holdFlushUntil(new Promise<void>((r) => (settleLate = r)));
  const queuedAt = performance.now();
  conn.sendEncoded(Buffer.from(event('demo-fan-basic', 50).encoded));
  while (writes.length < 2 && performance.now() - queuedAt < 1000) await new Promise((r) => setTimeout(r, 1));
  settleLate();
  assert.equal(writes.length, 2);
  const heldMs = writes[1]! - queuedAt;
  assert.ok(heldMs >= 4 && heldMs < 200, `held ${heldMs.toFixed(1)} ms`);
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await client.next('bench', 5000)).data.n);
  assert.deepEqual(got, [seq - 2, seq - 1, seq], 'all three arrived, in order');
});

test('queued frames count toward the slow-consumer limit (4009); other sockets keep receiving', TIMEOUT, async (t) => {
  offsets.clear();
  const gw = await startGateway(t, { env: { MAX_BUFFERED_BYTES: '4096' } });
  const slow = await gw.connect('demo-fan-basic');
  const other = await gw.connect('demo-fan-vip');
  // 40 events of ~300 B in one turn to one socket: more than 4 KiB queued before the kernel could take any.
  for (let i = 0; i < 40; i++) gw.node.hub.deliver(event('demo-fan-basic', 200));
  const closed = await slow.closed;
  assert.deepEqual([closed.code, closed.reason], [4009, 'slow consumer: send buffer full']);
  for (let i = 0; i < 5; i++) gw.node.hub.deliver(event('demo-fan-vip', 200));
  for (let i = 0; i < 5; i++) await other.next('bench');
});

test('a client that stops reading is closed as a slow consumer (4009) before the node holds more than the limit for it; others keep receiving', TIMEOUT, async (t) => {
  offsets.clear();
  const limit = 65_536;
  const gw = await startGateway(t, { env: { MAX_BUFFERED_BYTES: String(limit) } });
  const slow = await gw.connect('demo-fan-basic');
  const other = await gw.connect('demo-fan-vip');
  const conn = only(gw.node.hub.userConnections('demo-fan-basic'));
  const socket = rawSocket(conn);
  slow.socket.pause();
  // One ~32 KB event per turn: the kernel's buffers on loopback take a few MB, then the node's own buffer grows.
  const closing = () => conn.state === 'closing';
  let sent = 0;
  let mostHeld = 0;
  while (!closing() && sent < 4000) {
    gw.node.hub.deliver(event('demo-fan-basic', 32_000));
    sent++;
    await new Promise((r) => setImmediate(r));
    if (!closing()) mostHeld = Math.max(mostHeld, socket.writableLength);
  }
  assert.ok(closing(), `still open after ${sent} events`);
  assert.ok(mostHeld > 0 && mostHeld <= limit, `the node held at most ${mostHeld} bytes for the socket`);
  slow.socket.resume();
  const closed = await slow.closed;
  assert.deepEqual([closed.code, closed.reason], [4009, 'slow consumer: send buffer full']);
  const received = slow.frames.filter((f) => f.type === 'bench').length;
  assert.ok(received > 0 && received < sent, `${received} of ${sent} events reached the slow client before its close`);
  gw.node.hub.deliver(event('demo-fan-vip', 200));
  assert.equal((await other.next('bench', 5000)).data.n, seq);
});

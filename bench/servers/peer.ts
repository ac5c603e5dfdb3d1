/**
 * The peers a scenario measures beside fonana-realtime, one per process (started by bench/lib/servers.ts, pinned
 * to a core). Each serves WebSocket clients that subscribe to rooms, and `POST /publish {channel, type, data}`
 * which broadcasts an event frame `{type,id,channel,offset,ts,data}` to the room.
 *
 *   ws              plain `ws` server: a frame per socket per event (`ws.send`), no auth
 *   raw             hand-made handshake and frames: one pre-built frame written per socket per event
 *   raw-coalesced   the same, but the frames a socket gets in one tick go out in one write
 *   socketio        Socket.IO 4.8: rooms, an auth middleware verifying the same HS256 token, websocket transport only
 *
 * Client protocol (ws, raw): text frames `{"type":"subscribe","channel":"<key>"}`, answered `{"type":"subscribed"}`.
 * Socket.IO: `auth: {token}` on connect, then the event `subscribe` with the channel key, answered `subscribed`.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { Server as SocketIoServer } from 'socket.io';
import { verifyToken } from '../../packages/server/src/auth/tokens.ts';
import { serveIpc } from './ipc.ts';

const kind = process.argv[2] as 'ws' | 'raw' | 'raw-coalesced' | 'socketio';
const SECRET = process.env.BENCH_SECRET!;
const BACKLOG = 4096;

type Broadcast = (channel: string, text: string) => void;
let broadcast: Broadcast;
let seq = 0;

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'POST' || req.url !== '/publish') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { channel: string; type: string; data: unknown };
    const id = `evt-${++seq}`;
    const text = JSON.stringify({ type: body.type, id, channel: body.channel, offset: seq, ts: Date.now(), data: body.data });
    broadcast(body.channel, text);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id }));
  });
}

const server = createServer(onRequest);
const rooms = new Map<string, Set<any>>();
function join(room: string, member: unknown): void {
  let set = rooms.get(room);
  if (!set) rooms.set(room, (set = new Set()));
  set.add(member);
}
function leaveAll(member: unknown): void {
  for (const set of rooms.values()) set.delete(member);
}
const SUBSCRIBED = '{"type":"subscribed"}';

if (kind === 'ws') {
  const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
  wss.on('connection', (ws: WebSocket) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; channel: string };
      if (frame.type === 'subscribe') {
        join(frame.channel, ws);
        ws.send(SUBSCRIBED);
      }
    });
    ws.on('close', () => leaveAll(ws));
  });
  broadcast = (channel, text) => {
    for (const ws of rooms.get(channel) ?? []) ws.send(text);
  };
} else if (kind === 'socketio') {
  const io = new SocketIoServer(server, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
  io.use((socket, next) => {
    verifyToken(String(socket.handshake.auth?.token ?? ''), { secret: SECRET }).then(
      (verified) => {
        socket.data.userId = verified.userId;
        next();
      },
      () => next(new Error('unauthorized')),
    );
  });
  io.on('connection', (socket) => {
    socket.on('subscribe', (channel: string) => {
      void socket.join(channel);
      socket.emit('subscribed', channel);
    });
  });
  broadcast = (channel, text) => {
    const frame = JSON.parse(text) as { type: string };
    io.to(channel).emit(frame.type, frame);
  };
} else {
  const coalesce = kind === 'raw-coalesced';
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC11D65`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    let pending: Buffer | null = null;
    socket.on('data', (chunk: Buffer) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      while (buf.length >= 6) {
        let len = buf[1]! & 0x7f;
        let hdr = 2;
        if (len === 126) {
          len = buf.readUInt16BE(2);
          hdr = 4;
        }
        if (buf.length < hdr + 4 + len) break;
        const mask = buf.subarray(hdr, hdr + 4);
        const payload = Buffer.from(buf.subarray(hdr + 4, hdr + 4 + len));
        for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
        const opcode = buf[0]! & 0x0f;
        buf = buf.subarray(hdr + 4 + len);
        if (opcode === 8) {
          socket.end();
          return;
        }
        if (opcode !== 1) continue;
        const frame = JSON.parse(payload.toString()) as { type: string; channel: string };
        if (frame.type === 'subscribe') {
          join(frame.channel, socket);
          socket.write(serverFrame(Buffer.from(SUBSCRIBED)));
        }
      }
      if (buf.length > 0) pending = Buffer.from(buf);
    });
    socket.on('error', () => {});
    socket.on('close', () => leaveAll(socket));
  });
  if (!coalesce) {
    broadcast = (channel, text) => {
      const frame = serverFrame(Buffer.from(text));
      for (const socket of rooms.get(channel) ?? []) socket.write(frame);
    };
  } else {
    const queued = new Map<Duplex, Buffer[]>();
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      // Sockets of one room queue the same frames: the concatenation is made once and shared.
      let lastList: Buffer[] | null = null;
      let lastBytes: Buffer | null = null;
      for (const [socket, list] of queued) {
        if (!lastList || !sameFrames(list, lastList)) {
          lastList = list;
          lastBytes = list.length === 1 ? list[0]! : Buffer.concat(list);
        }
        socket.write(lastBytes!);
      }
      queued.clear();
    };
    broadcast = (channel, text) => {
      const frame = serverFrame(Buffer.from(text));
      for (const socket of rooms.get(channel) ?? []) {
        const list = queued.get(socket);
        if (list) list.push(frame);
        else queued.set(socket, [frame]);
      }
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    };
  }
}

function sameFrames(a: Buffer[], b: Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function serverFrame(payload: Buffer): Buffer {
  const len = payload.length;
  const hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(hdr + len);
  out[0] = 0x81;
  if (hdr === 2) out[1] = len;
  else if (hdr === 4) {
    out[1] = 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  payload.copy(out, hdr);
  return out;
}

server.listen({ port: 0, host: '127.0.0.1', backlog: BACKLOG }, () => {
  serveIpc((server.address() as AddressInfo).port);
});

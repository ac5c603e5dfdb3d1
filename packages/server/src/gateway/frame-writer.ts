/**
 * The write path of every socket: WebSocket frames built once per broadcast, and the frames one socket gets in one
 * event-loop turn written to its TCP socket in one write.
 *
 * Why (bench/RESULTS.md, fan-out profile): with `ws.send`, each event costs each socket one `writev` (header and
 * payload corked together), and that syscall was ~70% of the core under a burst. Here every frame is queued and a
 * socket's frames go out as one buffer in `setImmediate`: at the end of the same event-loop iteration (no timer, so no
 * added delay under light load), after every event that arrived in that iteration was queued. Writing a socket's
 * first frame of a turn at once instead cost one more syscall per socket per burst (measured: 0.63x raw-coalesced
 * at 10k). Sockets that queued the same frames (the subscribers of one channel) share one concatenated buffer.
 *
 * Raw writes bypass ws's Sender, which is safe while the Sender is idle (no deflate, no Blob in flight: its own writes
 * are then synchronous and whole frames); otherwise the frame goes through `ws.send` like before.
 */
import type { Socket } from 'node:net';
import * as wsModule from 'ws';
import WebSocket from 'ws';

/** ws's framing function (exported by ws as `WebSocket.Sender`, not declared in @types/ws). */
const frameParts = (wsModule as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } }).Sender.frame;
const FRAME_OPTIONS = { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false } as const;
/** ws's Sender state when nothing is being deflated or read from a Blob. */
const SENDER_IDLE = 0;

interface SenderInternals {
  _state?: number;
  _queue?: unknown[];
}

interface WsInternals {
  _socket?: Socket;
  _sender?: SenderInternals;
}

let lastPayload: string | Buffer | null = null;
let lastFrame: Buffer = Buffer.alloc(0);

/** hot path: the complete text frame (header + payload) for `payload`; the same bytes for the same payload object. */
export function textFrame(payload: string | Buffer): Buffer {
  if (payload === lastPayload) return lastFrame;
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const parts = frameParts(data, FRAME_OPTIONS);
  lastFrame = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  lastPayload = payload;
  return lastFrame;
}

/** The payload of a frame built by textFrame (for the ws.send fallback). */
function payloadOf(frame: Buffer): Buffer {
  const len = frame[1]! & 0x7f;
  return frame.subarray(len === 126 ? 4 : len === 127 ? 10 : 2);
}

/** Per-socket write state. */
export class FrameWriter {
  readonly #ws: WebSocket & WsInternals;
  #queue: Buffer[] | null = null;
  #queuedBytes = 0;
  /** The socket's and ws's buffered bytes when this turn's first frame was queued: until the flush only drains (and ws's own control frames, a few bytes) change them. */
  #bufferedBefore = 0;

  constructor(ws: WebSocket) {
    this.#ws = ws as WebSocket & WsInternals;
  }

  /** Bytes accepted but not yet taken by the kernel: the socket's own writable length, ws's, and this queue. */
  get bufferedBytes(): number {
    return (this.#queue === null ? this.#ws.bufferedAmount : this.#bufferedBefore) + this.#queuedBytes;
  }

  /** hot path: queues `frame` for the turn's flush. */
  write(frame: Buffer): void {
    if (this.#queue === null) {
      this.#bufferedBefore = this.#ws.bufferedAmount;
      this.#queue = [frame];
      pending.push(this);
      scheduleFlush();
    } else {
      this.#queue.push(frame);
    }
    this.#queuedBytes += frame.length;
  }

  /** Writes whatever is queued now (before a close frame, which must come last). */
  flush(): void {
    const queue = this.#takeQueue();
    if (queue) this.#writeNow(queue.length === 1 ? queue[0]! : Buffer.concat(queue));
  }

  #takeQueue(): Buffer[] | null {
    const queue = this.#queue;
    this.#queue = null;
    this.#queuedBytes = 0;
    return queue;
  }

  #writeNow(bytes: Buffer): void {
    const ws = this.#ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    const sender = ws._sender;
    const socket = ws._socket;
    if (socket && sender && sender._state === SENDER_IDLE && sender._queue?.length === 0) {
      socket.write(bytes);
      return;
    }
    // Not the usual case (ws internals differ or the Sender is busy): frame by frame through ws.
    for (let off = 0; off < bytes.length; ) {
      const len = bytes[off + 1]! & 0x7f;
      const header = len === 126 ? 4 : len === 127 ? 10 : 2;
      const size = len === 126 ? bytes.readUInt16BE(off + 2) : len === 127 ? Number(bytes.readBigUInt64BE(off + 2)) : len;
      ws.send(payloadOf(bytes.subarray(off, off + header + size)), { binary: false });
      off += header + size;
    }
  }

  /**
   * The turn's flush: sockets with the same queued frames share one concatenation. While commits announced by
   * `holdFlushUntil` are in flight, it waits once for them (at most MAX_HOLD_MS), so their events join this write.
   */
  static flushPending(): void {
    if (!holding && commitsInFlight.size > 0) return holdForCommits();
    holding = false;
    scheduled = false;
    const writers = pending;
    pending = [];
    let lastQueue: Buffer[] | null = null;
    let lastBytes: Buffer | null = null;
    for (const writer of writers) {
      const queue = writer.#takeQueue();
      if (!queue) continue;
      if (!lastQueue || !sameFrames(queue, lastQueue)) {
        lastQueue = queue;
        lastBytes = queue.length === 1 ? queue[0]! : Buffer.concat(queue);
      }
      writer.#writeNow(lastBytes!);
    }
  }
}

let pending: FrameWriter[] = [];
let scheduled = false;

/**
 * Under a burst, each commit of published events ends in its own event-loop turn, and each turn's flush costs one
 * write per subscriber: at 10k subscribers a flush of 4 events costs the same as one of 8. So a flush that is due
 * while commits whose events go to these sockets are in flight waits for those commits (not for later ones), for at
 * most MAX_HOLD_MS; a lone publish has no other commit in flight and is written at once.
 */
const MAX_HOLD_MS = 5;
const commitsInFlight = new Set<Promise<unknown>>();
let holding = false;

/** Announces a commit whose events will be queued for sockets when it settles (db/publish.ts, through the node). */
export function holdFlushUntil(commit: Promise<unknown>): void {
  commitsInFlight.add(commit);
  const settled = () => void commitsInFlight.delete(commit);
  commit.then(settled, settled);
}

function holdForCommits(): void {
  holding = true;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    clearTimeout(timer);
    setImmediate(FrameWriter.flushPending);
  };
  const timer = setTimeout(release, MAX_HOLD_MS);
  void Promise.allSettled([...commitsInFlight]).then(release);
}

function scheduleFlush(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(FrameWriter.flushPending);
}

function sameFrames(a: Buffer[], b: Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

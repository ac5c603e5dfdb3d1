/**
 * The load generator: WebSocket clients on raw TCP sockets, with a hand-made handshake and frame counting, so the
 * client side costs as little as possible and is the same for every server under test. Loopback only.
 *
 * Each client sends its setup frames (auth, subscribes; masked with a zero key) right after the 101, counts
 * `readyAfter` text frames as the setup answers, then counts every further text frame as a delivery and reads the
 * publisher's timestamp `"t":<ms>` out of it for the latency histogram. Socket.IO's ping (`2`) is answered (`3`),
 * WebSocket pings get a pong.
 */
import { connect, type Socket } from 'node:net';
import { Histogram } from './histogram.ts';

export interface ClientSpec {
  readonly port: number;
  /** Request path with query, e.g. `/ws?token=…`. */
  readonly path: string;
  /** Text frames to send once `afterAnswers` setup answers arrived (0: right after the upgrade). */
  readonly setup: readonly { afterAnswers: number; frames: readonly string[] }[];
  /** Text frames to receive before the client counts as ready (the answers to the setup). */
  readonly readyAfter: number;
  /** Called with every text frame the client receives, setup answers included (benches that check each client). */
  readonly onText?: (text: string) => void;
}

export interface PoolOptions {
  /** At most this many handshakes in flight, so the listen backlog is not what is measured. */
  readonly pace: number;
  /** Give up after this long. */
  readonly timeoutMs: number;
}

const LOCAL_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
const PING_SIO = Buffer.from('2');
const CRLF2 = Buffer.from('\r\n\r\n');

/** A client text frame, masked with the zero key (valid, and the payload stays as it is). */
export function clientFrame(text: string, opcode = 1): Buffer {
  const payload = Buffer.from(text);
  const len = payload.length;
  const header = len < 126 ? Buffer.alloc(6) : Buffer.alloc(8);
  header[0] = 0x80 | opcode;
  if (len < 126) header[1] = 0x80 | len;
  else {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(len, 2);
  }
  return Buffer.concat([header, payload]);
}
const SIO_PONG = clientFrame('3');
const WS_PONG = clientFrame('', 0xa);

class Client {
  socket: Socket;
  upgraded = false;
  ready = false;
  closed = false;
  setupLeft: number;
  answers = 0;
  pending: Buffer | null = null;
  texts: string[] | null = null;

  constructor(
    readonly pool: ClientPool,
    readonly spec: ClientSpec,
    localAddress: string,
  ) {
    this.setupLeft = spec.readyAfter;
    this.socket = connect({ port: spec.port, host: '127.0.0.1', localAddress, noDelay: true });
    this.socket.on('connect', () =>
      this.socket.write(
        `GET ${spec.path} HTTP/1.1\r\nHost: 127.0.0.1:${spec.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    this.socket.on('data', (chunk: Buffer) => this.#data(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      if (!this.upgraded) this.pool.handshakeDone(false);
      if (!this.closed) this.pool.clientClosed(this);
      this.closed = true;
    });
  }

  #data(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    if (!this.upgraded) {
      const end = buf.indexOf(CRLF2);
      if (end === -1) {
        this.pending = buf;
        return;
      }
      if (buf.toString('latin1', 0, 12) !== 'HTTP/1.1 101') {
        this.socket.destroy();
        return;
      }
      this.upgraded = true;
      this.pool.handshakeDone(true);
      this.#sendSetup();
      if (this.setupLeft === 0) this.#becomeReady();
      buf = buf.subarray(end + 4);
    }
    let off = 0;
    while (buf.length - off >= 2) {
      const b0 = buf[off]!;
      let len = buf[off + 1]! & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (buf.length - off < 4) break;
        len = buf.readUInt16BE(off + 2);
        hdr = 4;
      } else if (len === 127) {
        if (buf.length - off < 10) break;
        len = buf.readUInt32BE(off + 6);
        hdr = 10;
      }
      if (buf.length - off < hdr + len) break;
      const opcode = b0 & 0x0f;
      const payload = buf.subarray(off + hdr, off + hdr + len);
      off += hdr + len;
      if (opcode === 1) this.#text(payload);
      else if (opcode === 9) this.socket.write(WS_PONG);
      else if (opcode === 8) this.socket.end();
    }
    if (off < buf.length) this.pending = Buffer.from(buf.subarray(off));
  }

  #text(payload: Buffer): void {
    if (payload.length === 1 && payload.equals(PING_SIO)) {
      this.socket.write(SIO_PONG);
      return;
    }
    if (this.texts) this.texts.push(payload.toString());
    if (this.spec.onText) this.spec.onText(payload.toString());
    if (!this.ready) {
      this.answers++;
      this.#sendSetup();
      if (--this.setupLeft <= 0) this.#becomeReady();
      return;
    }
    this.pool.delivered(payload);
  }

  #sendSetup(): void {
    for (const stage of this.spec.setup) {
      if (stage.afterAnswers === this.answers) this.socket.write(Buffer.concat(stage.frames.map((t) => clientFrame(t))));
    }
  }

  #becomeReady(): void {
    this.ready = true;
    this.pool.clientReady();
  }
}

/** Many clients, opened at a paced rate, with shared counters and one latency histogram. */
export class ClientPool {
  readonly clients: Client[] = [];
  readonly latency = new Histogram();
  deliveries = 0;
  readyCount = 0;
  closedCount = 0;
  failedHandshakes = 0;
  lastDeliveryAt = 0;
  #inFlight = 0;
  #queue: ClientSpec[] = [];
  #waiters: { check: () => boolean; resolve: () => void }[] = [];
  #n = 0;

  constructor(readonly options: PoolOptions) {}

  /** Opens the clients (paced) and resolves when all are ready; rejects on timeout or when clients closed. */
  async open(specs: ClientSpec[]): Promise<void> {
    this.#queue.push(...specs);
    const target = this.readyCount + specs.length;
    this.#pump();
    await this.waitFor(() => this.readyCount + this.closedCount >= target, this.options.timeoutMs, 'clients ready');
    if (this.readyCount < target) throw new Error(`only ${this.readyCount} of ${target} clients ready (${this.closedCount} closed, ${this.failedHandshakes} refused)`);
  }

  #pump(): void {
    while (this.#inFlight < this.options.pace && this.#queue.length > 0) {
      this.#inFlight++;
      const spec = this.#queue.shift()!;
      this.clients.push(new Client(this, spec, LOCAL_ADDRESSES[this.#n++ % LOCAL_ADDRESSES.length]!));
    }
  }

  handshakeDone(ok: boolean): void {
    this.#inFlight--;
    if (!ok) this.failedHandshakes++;
    this.#pump();
  }

  clientReady(): void {
    this.readyCount++;
    this.#wake();
  }

  clientClosed(client: Client): void {
    if (client.ready) this.readyCount--;
    this.closedCount++;
    this.#wake();
  }

  delivered(payload: Buffer): void {
    this.deliveries++;
    const now = performance.timeOrigin + performance.now();
    this.lastDeliveryAt = now;
    const at = payload.indexOf('"t":');
    if (at !== -1) {
      let end = at + 4;
      while (end < payload.length && ((payload[end]! >= 0x30 && payload[end]! <= 0x39) || payload[end] === 0x2e)) end++;
      const sent = Number(payload.toString('latin1', at + 4, end));
      if (sent > 0) this.latency.record(now - sent);
    }
    if (this.#waiters.length > 0) this.#wake();
  }

  /** Resolves once `check()` holds (re-checked on every ready, close and delivery); rejects after `timeoutMs`. */
  waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (deliveries ${this.deliveries}, ready ${this.readyCount})`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  #wake(): void {
    const still = [];
    for (const w of this.#waiters) (w.check() ? w.resolve() : still.push(w));
    this.#waiters = still;
  }

  /** Keeps the text of the frames a client receives from now on (setup checks in the smoke test). */
  record(index: number): string[] {
    return (this.clients[index]!.texts = []);
  }

  /**
   * Ends every client with a reset rather than a FIN: a FIN from this side leaves its port in TIME_WAIT for 60 s, and
   * the 10k-20k such ports of one peer's run made the next peer's connects slow (a ws storm took 18 s right after a
   * gateway run, 2.2 s after an idle minute).
   */
  destroy(): void {
    for (const c of this.clients) {
      c.closed = true;
      if (c.socket.destroyed) continue;
      if (c.socket.readyState === 'open') c.socket.resetAndDestroy();
      else c.socket.destroy();
    }
  }
}

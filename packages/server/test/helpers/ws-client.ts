/** A test WebSocket client that queues every frame it receives and lets a test await the next one of a type. */
import { once } from 'node:events';
import WebSocket from 'ws';

export interface Frame {
  type: string;
  [key: string]: unknown;
  data?: any;
}

export class TestClient {
  readonly socket: WebSocket;
  readonly frames: Frame[] = [];
  #waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  closed: Promise<{ code: number; reason: string }>;
  /** How the socket closed, once it has (for failure messages). */
  #closedAs: string | null = null;

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.socket = new WebSocket(url, options);
    this.socket.on('message', (data) => this.#onFrame(JSON.parse(data.toString()) as Frame));
    this.closed = new Promise((resolve) => {
      this.socket.on('close', (code, reason) => {
        this.#closedAs = `${code} ${reason.toString()}`;
        resolve({ code, reason: reason.toString() });
      });
    });
    this.socket.on('error', () => {});
  }

  static async open(url: string, options?: WebSocket.ClientOptions): Promise<TestClient> {
    const client = new TestClient(url, options);
    await once(client.socket, 'open');
    return client;
  }

  #onFrame(frame: Frame): void {
    const i = this.#waiters.findIndex((w) => w.match(frame));
    if (i !== -1) {
      const [w] = this.#waiters.splice(i, 1);
      w!.resolve(frame);
      return;
    }
    this.frames.push(frame);
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame matching `type` (or predicate), taken from the queue or awaited; rejects after `timeoutMs`. */
  next(match: string | ((f: Frame) => boolean), timeoutMs = 5000): Promise<Frame> {
    const pred = typeof match === 'string' ? (f: Frame) => f.type === match : match;
    const i = this.frames.findIndex(pred);
    if (i !== -1) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = { match: pred, resolve: (f: Frame) => (clearTimeout(timer), resolve(f)) };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        const state = this.#closedAs === null ? 'the socket is open' : `the socket closed: ${this.#closedAs}`;
        reject(new Error(`timed out waiting for ${typeof match === 'string' ? match : 'a matching frame'}; got ${JSON.stringify(this.frames.map((f) => f.type))}; ${state}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Asserts that no frame matching `match` arrives within `ms`. Returns the frames of that kind seen (expected []). */
  async none(match: string | ((f: Frame) => boolean), ms = 300): Promise<Frame[]> {
    const pred = typeof match === 'string' ? (f: Frame) => f.type === match : match;
    await new Promise((r) => setTimeout(r, ms));
    return this.frames.filter(pred);
  }

  close(): void {
    this.socket.close();
  }
}

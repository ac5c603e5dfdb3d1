/**
 * The publisher: HTTP requests to a server's publish endpoint over keep-alive connections. Each event's data carries
 * `t`, the wall-clock time (ms, sub-ms precision) it was sent, which the load generator reads for latency, and a pad
 * to bring the event frame to about 200 bytes.
 */
import { Agent, request } from 'node:http';
import { publishRequest, type Peer } from './servers.ts';

const PAD = 'x'.repeat(80);
const ignore = () => {};

export class Publisher {
  readonly #agent: Agent;

  constructor(
    readonly peer: Peer,
    readonly port: number,
    readonly concurrency = 8,
  ) {
    this.#agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  }

  /** Publishes one event and resolves when the server answered 200. */
  one(): Promise<void> {
    return this.#send(true);
  }

  #send(mayRetry: boolean): Promise<void> {
    const req = publishRequest(this.peer, { t: performance.timeOrigin + performance.now(), pad: PAD });
    return new Promise((resolve, reject) => {
      const r = request(
        { host: '127.0.0.1', port: this.port, method: 'POST', path: req.path, headers: req.headers, agent: this.#agent },
        (res) => {
          res.on('error', reject);
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${this.peer}: publish answered ${res.statusCode}`))));
        },
      );
      // A kept-alive socket the server resets while it sits in the agent between requests has no request to report
      // to: without a listener of its own its ECONNRESET ended the bench process (Socket.IO at 10k, whose loop is
      // busy for seconds). A request sent on a reused socket the server had just closed is sent once more (the race
      // Node's documentation describes for keep-alive).
      r.on('socket', (socket) => {
        if (!socket.listeners('error').includes(ignore)) socket.on('error', ignore);
      });
      r.on('error', (err: NodeJS.ErrnoException) => {
        if (mayRetry && r.reusedSocket && err.code === 'ECONNRESET') this.#send(false).then(resolve, reject);
        else reject(err);
      });
      r.end(req.body);
    });
  }

  /** `count` events by `concurrency` concurrent publishers (each sends its next one when the last was answered). */
  async burst(count: number): Promise<void> {
    let left = count;
    const worker = async () => {
      while (left > 0) {
        left--;
        await this.one();
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, count) }, worker));
  }

  close(): void {
    this.#agent.destroy();
  }
}

/**
 * A publish awaited later (with the others of a paced series): marked handled now, so a failure in the meantime is
 * not an unhandled rejection that ends the process (a gateway hanging up one publish did, in the latency scenario);
 * the returned promise still rejects with it when awaited.
 */
export function settledLater(p: Promise<void>): Promise<void> {
  p.catch(() => {});
  return p;
}

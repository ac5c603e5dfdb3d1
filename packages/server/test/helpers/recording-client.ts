/**
 * The project's own SDK (packages/client) in Node on the `ws` package, with every frame it receives recorded per
 * socket, so a deployment test can check the SDK's view (each event once, in offset order) and the wire's (a
 * recovered `subscribed` after each reconnect, the replay and live events without a hole or a repeat).
 */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createClient, type EventFrame, type RealtimeClient, type Subscription, type WebSocketConstructor } from '../../../client/src/index.ts';

/** One received frame: the socket it came on (0, 1, … per connect attempt of the client) and the parsed frame. */
export interface WireFrame {
  socket: number;
  frame: { type?: string; id?: string; channel?: string; offset?: number; data?: Record<string, unknown> };
}

export interface RecordingClient {
  readonly client: RealtimeClient;
  readonly sub: Subscription;
  /** The channel's events as the SDK delivered them, in order. */
  readonly events: EventFrame[];
  /** Every frame every socket of the client received, in order. */
  readonly wire: WireFrame[];
  /** Close codes seen by the SDK. */
  readonly closes: number[];
  /** `recovery` reports of the SDK (missed events it could not replay). */
  readonly lost: string[];
  /** Resolves once the subscription is `subscribed` (bounded). */
  subscribed(ms?: number): Promise<void>;
}

/** An SDK client of `url` for `userId`, subscribed to `channel` (e.g. `creator:demo-creator`). Destroyed after. */
export function recordingClient(
  t: { after(fn: () => unknown): void },
  options: {
    url: string;
    channel: string;
    token: () => string | Promise<string>;
    /**
     * Every reconnect waits about this long (the SDK's backoff with its randomness pinned near the cap), so events
     * published meanwhile can only arrive by recovery. Default 300 ms.
     */
    reconnectDelayMs?: number;
    /**
     * How many events the test has published so far. With it, a reconnect also waits (at most 10 s, in the SDK's
     * getToken) until two more were published after the close, so even a slow machine has a gap to replay.
     */
    publishedCount?: () => number;
  },
): RecordingClient {
  const wire: WireFrame[] = [];
  let sockets = 0;
  class RecordingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      const socket = sockets++;
      // Registered before the SDK's onmessage, so the log has each frame before the SDK acts on it.
      this.on('message', (data) => void wire.push({ socket, frame: JSON.parse(String(data)) }));
    }
  }
  let publishedAtClose = 0;
  const client = createClient({
    url: options.url,
    WebSocket: RecordingWebSocket as unknown as WebSocketConstructor,
    getToken: async (reason) => {
      const count = options.publishedCount;
      if (reason !== 'connect' && count) {
        for (const deadline = Date.now() + 10_000; count() < publishedAtClose + 2 && Date.now() < deadline; ) {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      return options.token();
    },
    backoff: { minMs: options.reconnectDelayMs ?? 300, maxMs: options.reconnectDelayMs ?? 300, random: () => 0.99 },
  });
  t.after(() => client.destroy());
  const events: EventFrame[] = [];
  const closes: number[] = [];
  const lost: string[] = [];
  client.on('disconnected', (d) => {
    closes.push(d.code);
    publishedAtClose = options.publishedCount?.() ?? 0;
  });
  client.on('recovery', (r) => void lost.push(r.channel));
  const sub = client.subscribe(options.channel);
  sub.on('event', (frame) => void events.push(frame as EventFrame));
  const subscribed = (ms = 10_000) =>
    new Promise<void>((resolve, reject) => {
      if (sub.state === 'subscribed') return resolve();
      const timer = setTimeout(() => (off(), reject(new Error(`not subscribed to ${options.channel} within ${ms} ms`))), ms);
      const off = sub.on('state', (s) => {
        if (s === 'subscribed') (clearTimeout(timer), off(), resolve());
      });
    });
  return { client, sub: sub as Subscription, events, wire, closes, lost, subscribed };
}

/** Polls `done` every 50 ms until it is true; fails with `what()` after `ms`. */
export async function until(done: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    assert.ok(Date.now() < deadline, `${what()} (waited ${ms} ms)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * What a client that was moved `reconnects` times (or more) must show for `channelKey`, given the event ids in the
 * order they were published (each publish was answered before the next was sent, so that is offset order):
 * - the SDK delivered each of them exactly once, in that order, with consecutive offsets, and reported no loss;
 * - on the wire, every socket after the first was subscribed again with `recovered: true`, and the channel's event
 *   frames over all sockets carry consecutive offsets: the replay continued where the old socket stopped, nothing
 *   skipped, nothing repeated.
 * Returns how many sockets were subscribed again with `recovered: true`, and how many events came in their replays
 * (the events of such a socket up to the offset its `subscribed` named; later ones are live).
 */
export function assertNothingLost(rc: RecordingClient, channelKey: string, published: string[], name: string): { recoveries: number; replayed: number } {
  assert.deepEqual(rc.lost, [], `${name}: the SDK reported no unrecoverable gap`);
  const ids = rc.events.map((e) => e.id);
  const missing = published.filter((id) => !ids.includes(id));
  assert.equal(missing.length, 0, `${name}: every published event arrived (missing ${missing.length} of ${published.length})`);
  assert.deepEqual(ids, published, `${name}: each event exactly once, in the order published`);
  const offsets = rc.events.map((e) => e.offset);
  offsets.forEach((o, i) => i === 0 || assert.equal(o, offsets[i - 1]! + 1, `${name}: consecutive offsets (${offsets[i - 1]} then ${o})`));

  const frames = rc.wire.filter((w) => w.frame.channel === channelKey && typeof w.frame.id === 'string');
  const wireOffsets = frames.map((w) => w.frame.offset!);
  wireOffsets.forEach((o, i) =>
    i === 0 || assert.equal(o, wireOffsets[i - 1]! + 1, `${name}: on the wire too, offset ${wireOffsets[i - 1]} then ${o} (socket ${frames[i]!.socket})`),
  );
  const sockets = new Set(rc.wire.map((w) => w.socket));
  let recoveries = 0;
  let replayed = 0;
  for (const socket of sockets) {
    const subscribed = rc.wire.find((w) => w.socket === socket && w.frame.type === 'subscribed' && (w.frame.data?.channelKey === channelKey));
    if (!subscribed) continue; // an attempt refused or closed before it subscribed
    if (socket === Math.min(...sockets)) {
      assert.equal(subscribed.frame.data?.recovered, undefined, `${name}: the first subscribe had no since`);
      continue;
    }
    assert.equal(subscribed.frame.data?.recovered, true, `${name}: socket ${socket} subscribed again with recovered: true`);
    recoveries++;
    const upTo = subscribed.frame.data?.offset as number;
    replayed += frames.filter((w) => w.socket === socket && w.frame.offset! <= upTo).length;
  }
  return { recoveries, replayed };
}

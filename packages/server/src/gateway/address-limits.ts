/**
 * Limits per client address, so one address cannot take a node's sockets from everyone else:
 * - open connections (MAX_SOCKETS_PER_ADDRESS): counted per TCP peer when the connection is accepted (a connection
 *   over the limit is closed before it can send a request, so half-sent requests cannot pile up), and per client
 *   address (X-Forwarded-For from a trusted proxy) for WebSocket sockets;
 * - sockets still authenticating (MAX_UNAUTHENTICATED_PER_ADDRESS);
 * - upgrade requests per second (MAX_CONNECT_RATE_PER_ADDRESS), in fixed one-second windows.
 * Every refusal is counted in `realtime_address_refusals_total{code}` and logged at most once per address, code
 * and LOG_EVERY_MS.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Code } from '@fonana-realtime/protocol';
import type { Limits } from '../config/config.ts';
import { clientAddress, unmapIPv4, type TrustedProxies } from '../config/trusted-proxies.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

const WINDOW_MS = 1000;
const LOG_EVERY_MS = 10_000;
/** Bound of the log throttle's memory; past it the throttle starts over. */
const MAX_LOG_KEYS = 10_000;
/** The counted peer address of an accepted TCP socket, read back by the one shared `close` listener. */
const PEER = Symbol('peer');

type CountedSocket = Socket & { [PEER]?: string };

export interface AddressLimitsOptions {
  readonly limits: Limits;
  readonly trustedProxies: TrustedProxies | null;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

export class AddressLimits {
  readonly #options: AddressLimitsOptions;
  /** Open TCP connections per peer address (trusted proxies are not counted). */
  readonly #connections = new Map<string, number>();
  /** Open WebSocket sockets per client address. */
  readonly #sockets = new Map<string, number>();
  /** WebSocket sockets per client address that have not authenticated yet. */
  readonly #unauthenticated = new Map<string, number>();
  /** Upgrade requests per client address in the current window. */
  #attempts = new Map<string, number>();
  #windowStart = 0;
  readonly #lastLogged = new Map<string, number>();
  /** One listener for every socket (a closure per socket cost ~250 bytes of each idle connection). */
  readonly #peerClosed: (this: CountedSocket) => void;

  constructor(options: AddressLimitsOptions) {
    this.#options = options;
    const connections = this.#connections;
    this.#peerClosed = function () {
      decrement(connections, this[PEER]!);
    };
  }

  /** A TCP connection was accepted: counts it, or closes it when its peer is over MAX_SOCKETS_PER_ADDRESS. */
  accept(socket: Socket): void {
    const peer = unmapIPv4(socket.remoteAddress ?? '');
    if (peer === '' || this.#options.trustedProxies?.has(peer)) return;
    const open = this.#connections.get(peer) ?? 0;
    if (open >= this.#options.limits.maxSocketsPerAddress) {
      this.#refused(peer, 'GW_ERR_ADDRESS_SOCKET_LIMIT');
      socket.destroy();
      return;
    }
    this.#connections.set(peer, open + 1);
    (socket as CountedSocket)[PEER] = peer;
    socket.on('close', this.#peerClosed);
  }

  /** The client address of an upgrade request and whether it may open a socket now. Counts the attempt. */
  admit(req: IncomingMessage): { address: string; refused: Code | null } {
    const address = clientAddress(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for'], this.#options.trustedProxies);
    const { limits } = this.#options;
    const now = Date.now();
    if (now - this.#windowStart >= WINDOW_MS) {
      this.#attempts = new Map();
      this.#windowStart = now;
    }
    const attempts = (this.#attempts.get(address) ?? 0) + 1;
    this.#attempts.set(address, attempts);
    let refused: Code | null = null;
    if (attempts > limits.maxConnectRatePerAddress) refused = 'GW_ERR_ADDRESS_RATE_LIMITED';
    else if ((this.#sockets.get(address) ?? 0) >= limits.maxSocketsPerAddress) refused = 'GW_ERR_ADDRESS_SOCKET_LIMIT';
    else if ((this.#unauthenticated.get(address) ?? 0) >= limits.maxUnauthenticatedPerAddress) {
      refused = 'GW_ERR_ADDRESS_UNAUTHENTICATED_LIMIT';
    }
    if (refused) this.#refused(address, refused);
    return { address, refused };
  }

  /** A WebSocket socket of `address` opened (not yet authenticated). */
  opened(address: string): void {
    this.#sockets.set(address, (this.#sockets.get(address) ?? 0) + 1);
    this.#unauthenticated.set(address, (this.#unauthenticated.get(address) ?? 0) + 1);
  }

  /** A socket of `address` finished authentication. */
  authenticated(address: string): void {
    decrement(this.#unauthenticated, address);
  }

  /** A socket of `address` closed; `authenticated` says whether `authenticated()` was called for it. */
  closed(address: string, authenticated: boolean): void {
    decrement(this.#sockets, address);
    if (!authenticated) decrement(this.#unauthenticated, address);
  }

  #refused(address: string, code: Code): void {
    this.#options.metrics.addressRefusals.inc({ code });
    const key = `${code} ${address}`;
    const now = Date.now();
    const last = this.#lastLogged.get(key);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    if (this.#lastLogged.size >= MAX_LOG_KEYS) this.#lastLogged.clear();
    this.#lastLogged.set(key, now);
    this.#options.logger.warn({ address, code }, 'connection refused: per-address limit (logged once per 10 s per address)');
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}

/**
 * Per-connection state. A Connection knows its socket, its user and its channels; it does not route
 * events (hub.ts) and does not interpret frames (frame-handler.ts).
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { Codes, encodeFrame, type Channel, type Code, type ControlFrame } from '@fonana-realtime/protocol';
import { FrameWriter, textFrame } from './frame-writer.ts';

export type ConnectionState = 'authenticating' | 'open' | 'closing';

/** What a socket's listeners report to: the WebSocket gateway. */
export interface SocketOwner {
  receive(conn: Connection, text: string): void;
  closed(conn: Connection): void;
}

/** The socket class the gateway's ws server creates: back-references to its Connection and its owner. */
export class GatewaySocket extends WebSocket {
  connection!: Connection;
  owner!: SocketOwner;
}

export interface ConnectionOptions {
  readonly maxBufferedBytes: number;
  /** Counts control frames sent (event frames are counted per broadcast by the hub). */
  readonly onControlFrame: () => void;
}

export class Connection {
  readonly id = randomUUID();
  readonly socket: GatewaySocket;
  readonly #options: ConnectionOptions;
  readonly #writer: FrameWriter;
  state: ConnectionState = 'authenticating';
  userId: string | null = null;
  /** The client's address (X-Forwarded-For from a trusted proxy, else the peer's), for per-address limits. */
  address = '';
  /** Token expiry, ms since the epoch (token-lifetime.ts warns before it and closes after it plus a grace period). */
  expiresAt = 0;
  /** Token `iat`, ms since the epoch (null: none); a disconnect closes sockets whose token is older than its time. */
  issuedAt: number | null = null;
  /** When this socket's next token-lifetime step is due, and its place in token-lifetime.ts's heap (-1: none). */
  lifetimeDue = 0;
  lifetimeIndex = -1;
  /** When `token-expiring` is due for the current token, ms since the epoch. */
  warnAt = 0;
  /** The expiry `token-expiring` was last sent for (0: none), so each expiry is warned once. */
  warnedExpiresAt = 0;
  /** Last time anything (frame or pong) arrived, ms since the epoch. */
  lastSeen = Date.now();
  /** Subscribed channels by wire key. */
  readonly channels = new Map<string, Channel>();
  /** Raw frames waiting to be handled, in arrival order (replaced by a new array once drained: websocket-server.ts). */
  inbox: string[] = [];
  framesReceived = 0;
  processing = false;
  /** Incremented by every authentication attempt; a result whose generation is stale is ignored. */
  authGeneration = 0;
  authTimer: NodeJS.Timeout | null = null;
  /** A token is being checked (its result has not come back yet). */
  authInFlight = false;
  /** Incremented whenever an entitlement event reaches this socket; a subscribe checked across a change re-checks. */
  entitlementEpoch = 0;

  constructor(socket: GatewaySocket, options: ConnectionOptions) {
    this.socket = socket;
    this.#options = options;
    this.#writer = new FrameWriter(socket);
    socket.connection = this;
  }

  /** Sends a control frame (encoded for this socket alone). */
  sendFrame(frame: ControlFrame): void {
    if (this.sendEncoded(encodeFrame(frame))) this.#options.onControlFrame();
  }

  /**
   * hot path: sends already-encoded bytes shared by every recipient (the frame is built once for all of them, and a
   * socket's frames of one turn go out in one write: frame-writer.ts). A socket whose send buffer would exceed the
   * limit is closed as a slow consumer (4009) instead of buffering without bound.
   */
  sendEncoded(data: string | Buffer): boolean {
    if (this.state === 'closing' || this.socket.readyState !== WebSocket.OPEN) return false;
    const frame = textFrame(data);
    if (this.#writer.bufferedBytes + frame.length > this.#options.maxBufferedBytes) {
      this.close('GW_ERR_SLOW_CONSUMER');
      return false;
    }
    this.#writer.write(frame);
    return true;
  }

  /** Closes with the close code and reason of a table row. Idempotent. */
  close(code: Code): void {
    if (this.state === 'closing') return;
    this.state = 'closing';
    const row = Codes[code];
    if (this.authTimer) clearTimeout(this.authTimer);
    if (code !== 'GW_ERR_SLOW_CONSUMER') this.#writer.flush();
    this.socket.close(row.close ?? 1000, row.reason);
  }
}

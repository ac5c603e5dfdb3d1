/**
 * The WebSocket side of the gateway: takes `upgrade` requests of the HTTP server, authenticates, hands frames
 * to the FrameHandler in order, keeps sockets alive (heartbeat), and drains on shutdown.
 *
 * Authentication, in this order of preference:
 *   1. an `{"type":"auth","token"}` frame sent first (within AUTH_TIMEOUT_MS of the upgrade),
 *   2. `Authorization: Bearer <token>` on the upgrade request,
 *   3. `?token=` on the upgrade URL (unless ALLOW_QUERY_TOKEN=false),
 *   4. a NextAuth v4 session cookie on the upgrade request (only with ACCEPT_SESSION_COOKIE=true, which requires
 *      ALLOWED_ORIGINS: the Origin check is what keeps other sites from riding on the browser's cookie).
 * With a header, query or cookie token, verification starts at once; if the client's first frame is an `auth`
 * frame that arrives before it finished, the frame's token decides instead. Frames other than `auth` that
 * arrive before authentication has finished wait in the connection's inbox and are handled in order
 * afterwards (the reference attached its listener late and lost them).
 *
 *   upgrade ──▶ authenticating ──(token ok, user exists)──▶ open ──(close / drain / heartbeat)──▶ closing
 *                     │ bad token, timeout, no auth frame
 *                     └──────────────▶ close 4001
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { channelKey, Codes, decodeClientFrame, userChannel, type Code, type StreamPosition } from '@fonana-realtime/protocol';
import type { Config } from '../config/config.ts';
import type { Database } from '../db/client.ts';
import { isGatewayError, GatewayError } from '../errors.ts';
import { errorSummary, pathOnly, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { sessionKey, sessionTokenFromCookies, verifySessionToken } from '../auth/session-cookie.ts';
import { verifyToken, type TokenOptions, type VerifiedToken } from '../auth/tokens.ts';
import type { BrokerMessage } from '../broker/broker.ts';
import { issuedTooEarly, userAuthStates, type UserAuthState } from '../db/token-not-before.ts';
import { DISCONNECT_EVENT, type DisconnectData } from '../domain/events.ts';
import { KnownUsers } from '../auth/known-users.ts';
import { BatchedLookup } from '../cache/batched-lookup.ts';
import { revokedPosts } from './channel-access.ts';
import { PostCache } from './post-cache.ts';
import { Connection, GatewaySocket, type ConnectionOptions, type SocketOwner } from './connection.ts';
import { AddressLimits } from './address-limits.ts';
import { FrameHandler } from './frame-handler.ts';
import { Hub, type JoinPosition } from './hub.ts';
import { TokenLifetime } from './token-lifetime.ts';

const WS_PATHS: ReadonlySet<string> = new Set(['/ws', '/']);
const DRAIN_GRACE_MS = 2000;
/** Disconnects remembered per node (user → not-before), for sockets whose auth check ran before the disconnect committed. */
const RECENT_DISCONNECTS = 10_000;

export interface WebSocketGatewayOptions {
  readonly config: Config;
  readonly db: Database;
  readonly hub: Hub;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly tokens: TokenOptions;
}

export class WebSocketGateway implements SocketOwner {
  readonly #options: WebSocketGatewayOptions;
  readonly #wss: WebSocketServer;
  readonly #frames: FrameHandler;
  readonly #connections = new Set<Connection>();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #connectionOptions: ConnectionOptions;
  readonly #tokenLifetime: TokenLifetime;
  readonly #recentDisconnects = new Map<string, number>();
  /** NextAuth's session-token key, when session cookies are accepted. */
  readonly #sessionKey: Uint8Array | null;
  readonly #addressLimits: AddressLimits;
  readonly #users: KnownUsers;
  /**
   * Existence and token not-before time of the users authenticating in one event-loop turn (and, while a read runs,
   * of all those asked meanwhile: one read in flight at a time), in one query; never remembered.
   */
  readonly #authStates: BatchedLookup<UserAuthState>;
  #draining = false;

  constructor(options: WebSocketGatewayOptions) {
    this.#options = options;
    const { limits } = options.config;
    this.#users = new KnownUsers(options.db.orm, { ttlMs: options.config.timings.userCacheTtlMs, maxEntries: limits.userCacheSize });
    this.#authStates = new BatchedLookup((userIds) => userAuthStates(options.db.orm, userIds), { ttlMs: 0, maxEntries: 0, maxInFlight: 1 });
    const posts = new PostCache(options.db.orm, {
      ttlMs: options.config.timings.postCacheTtlMs,
      maxEntries: limits.postCacheSize,
      onQuery: () => options.metrics.postLookupQueries.inc(),
    });
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      WebSocket: GatewaySocket,
    });
    this.#sessionKey = options.config.acceptSessionCookie ? sessionKey(options.tokens.secret) : null;
    this.#tokenLifetime = new TokenLifetime({
      refreshWindowMs: options.config.timings.tokenRefreshWindowMs,
      graceMs: options.config.timings.tokenExpiryGraceMs,
    });
    this.#frames = new FrameHandler({
      db: options.db,
      hub: options.hub,
      lookups: { users: this.#users, posts },
      metrics: options.metrics,
      logger: options.logger,
      maxChannelsPerSocket: limits.maxChannelsPerSocket,
      authenticate: (token) => this.#authenticate(token),
      tokenLifetime: this.#tokenLifetime,
    });
    this.#connectionOptions = {
      maxBufferedBytes: limits.maxBufferedBytes,
      onControlFrame: () => options.metrics.framesOut.inc(),
    };
    this.#addressLimits = new AddressLimits({
      limits,
      trustedProxies: options.config.trustedProxies,
      metrics: options.metrics,
      logger: options.logger,
    });
    this.#heartbeat = setInterval(() => this.#beat(), options.config.timings.heartbeatIntervalMs);
    this.#heartbeat.unref();
  }

  /** Number of sockets, authenticated or not. */
  get socketCount(): number {
    return this.#connections.size;
  }

  /** Takes the `upgrade` event of an HTTP server, and counts its connections per address. */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.#addressLimits.accept(socket));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', noop);
    const refusal = this.#refusal(req);
    if (typeof refusal !== 'string') return refuseUpgrade(socket, refusal, this.#options.metrics);
    const token = this.#upgradeToken(req);
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws as GatewaySocket, token, refusal));
  }

  /** The client address when the upgrade may go ahead, else what to answer. */
  #refusal(req: IncomingMessage): string | { status: number; code?: Code } {
    if (!WS_PATHS.has(pathOnly(req.url))) return { status: 404 };
    if (this.#draining) return { status: 503, code: 'GW_ERR_SERVER_RESTART' };
    const origins = this.#options.config.allowedOrigins;
    if (origins && !origins.includes(req.headers.origin ?? '')) return { status: 403 };
    if (this.#connections.size >= this.#options.config.limits.maxConnections) {
      this.#options.metrics.errors.inc({ code: 'GW_ERR_SERVER_FULL' });
      this.#logFull();
      return { status: 503, code: 'GW_ERR_SERVER_FULL' };
    }
    const { address, refused } = this.#addressLimits.admit(req);
    return refused ? { status: Codes[refused].http, code: refused } : address;
  }

  #lastFullLog = 0;

  /** Logs that the node is full, at most once per 10 s. */
  #logFull(): void {
    const now = Date.now();
    if (now - this.#lastFullLog < 10_000) return;
    this.#lastFullLog = now;
    this.#options.logger.warn(
      { sockets: this.#connections.size, maxConnections: this.#options.config.limits.maxConnections },
      'upgrade refused: MAX_CONNECTIONS reached (logged once per 10 s)',
    );
  }

  /** The credential of the upgrade request: the header, else the query, else the session cookie (never logged). */
  #upgradeToken(req: IncomingMessage): UpgradeCredential {
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ') && header.length > 7) return { token: header.slice(7).trim() };
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const token = q === -1 ? null : new URLSearchParams(url.slice(q + 1)).get('token');
    if (token) return this.#options.config.allowQueryToken ? { token } : { refused: 'GW_ERR_AUTH_QUERY_TOKEN_DISABLED' };
    if (!this.#sessionKey) return null;
    const sealed = sessionTokenFromCookies(req.headers.cookie);
    return sealed ? { token: sealed, session: true } : null;
  }

  #onConnection(ws: GatewaySocket, upgrade: UpgradeCredential, address: string): void {
    const conn = new Connection(ws, this.#connectionOptions);
    conn.address = address;
    this.#addressLimits.opened(address);
    this.#connections.add(conn);
    ws.on('message', socketOnMessage);
    ws.on('pong', socketOnPong);
    ws.on('close', socketOnClose);
    ws.on('error', socketOnError);
    ws.owner = this;
    if (upgrade && 'refused' in upgrade) return this.#failAuth(conn, upgrade.refused);
    conn.authTimer = setTimeout(() => this.#authTimedOut(conn), this.#options.config.timings.authTimeoutMs);
    if (upgrade) this.#startAuth(conn, upgrade.token, upgrade.session === true);
  }

  /** A frame arrived: authenticate with it, or queue it and run the inbox. Never throws into the socket's emitter. */
  receive(conn: Connection, text: string): void {
    try {
      this.#receive(conn, text);
    } catch (err) {
      this.#options.logger.error({ err, connectionId: conn.id }, 'frame could not be received');
      this.#options.metrics.errors.inc({ code: 'GW_ERR_INTERNAL' });
      conn.close('GW_ERR_INTERNAL');
    }
  }

  #receive(conn: Connection, text: string): void {
    if (conn.state === 'closing') return;
    conn.lastSeen = Date.now();
    conn.framesReceived++;
    // userId is set once a token was accepted: an auth frame after that waits in the inbox and re-authenticates.
    if (conn.state === 'authenticating' && conn.framesReceived === 1 && conn.userId === null) {
      const decoded = decodeClientFrame(text);
      if (decoded.ok && decoded.frame.type === 'auth') return this.#startAuth(conn, decoded.frame.token, false, decoded.frame.since);
      if (conn.authGeneration === 0) return this.#failAuth(conn, 'GW_ERR_AUTH_REQUIRED');
    }
    if (conn.state === 'open' && conn.processing && isPing(text)) {
      // The frame ahead may be waiting for the database; a ping is answered at once so liveness checks stay true.
      this.#options.metrics.framesIn.inc({ type: 'ping' });
      return this.#frames.pong(conn);
    }
    if (conn.inbox.length >= this.#options.config.limits.maxQueuedFrames) return conn.close('GW_ERR_FRAME_FLOOD');
    conn.inbox.push(text);
    void this.#pump(conn);
  }

  async #pump(conn: Connection): Promise<void> {
    if (conn.processing || conn.state !== 'open') return;
    conn.processing = true;
    try {
      while (conn.inbox.length > 0 && conn.state === 'open') {
        const text = conn.inbox.shift()!;
        try {
          await this.#frames.handle(conn, text);
        } catch (err) {
          // A frame may only ever hurt its own socket: answer it, keep the socket and the process.
          this.#options.logger.error({ err, connectionId: conn.id }, 'frame handling failed');
          this.#options.metrics.errors.inc({ code: 'GW_ERR_INTERNAL' });
          conn.sendFrame({ type: 'error', data: { code: 'GW_ERR_INTERNAL', message: 'the frame could not be handled' } });
        }
      }
    } finally {
      conn.processing = false;
      // A drained array keeps its grown backing store (~100 bytes): an idle socket should not.
      if (conn.inbox.length === 0) conn.inbox = [];
    }
  }

  /**
   * Checks a connecting socket's token, then opens the socket. The user's state in the database (exists, not-before)
   * is read now only when this node has read the head of the user's channel already; otherwise (the user's first
   * socket here) the socket is registered at once and the head read it leads to carries the state (`userHeadRead`):
   * one database read per connect, not two.
   */
  #startAuth(conn: Connection, token: string, session = false, since?: StreamPosition): void {
    const generation = ++conn.authGeneration;
    conn.authInFlight = true;
    this.#verify(token, session).then(
      (verified) => {
        if (generation !== conn.authGeneration) return;
        // Decided in the step that registers the socket (#open): no head read of the user's channel can slip between.
        if (!this.#options.hub.userHeadLoaded(verified.userId)) return this.#authenticated(conn, generation, verified, since);
        this.#checkUser(verified).then(
          () => this.#authenticated(conn, generation, verified, since),
          (err: unknown) => this.#authFailed(conn, generation, err),
        );
      },
      (err: unknown) => this.#authFailed(conn, generation, err),
    );
  }

  #authenticated(conn: Connection, generation: number, verified: VerifiedToken, since: StreamPosition | undefined): void {
    if (generation !== conn.authGeneration) return;
    conn.authInFlight = false;
    this.#open(conn, verified, since);
  }

  #authFailed(conn: Connection, generation: number, err: unknown): void {
    if (generation !== conn.authGeneration) return;
    conn.authInFlight = false;
    if (isGatewayError(err)) return this.#failAuth(conn, err.code);
    // Not the token's fault (e.g. the database is down): 1011, so the client retries with the same token.
    this.#authUnavailable(conn, errorSummary(err));
  }

  /**
   * AUTH_TIMEOUT_MS passed. Without a token that is the client's doing (4001); with a token whose check has not
   * finished it is the server's (its database is slow or gone): 1011, so the client keeps its token and retries.
   */
  #authTimedOut(conn: Connection): void {
    if (conn.authInFlight) return this.#authUnavailable(conn, { message: 'the token check did not finish in time' });
    this.#failAuth(conn, 'GW_ERR_AUTH_TIMEOUT');
  }

  #authUnavailable(conn: Connection, error: { message: string; code?: string }): void {
    if (conn.state === 'closing') return;
    this.#options.logger.warn({ connectionId: conn.id, error }, 'authentication could not be checked');
    this.#options.metrics.errors.inc({ code: 'GW_ERR_AUTH_UNAVAILABLE' });
    conn.close('GW_ERR_AUTH_UNAVAILABLE');
  }

  /**
   * Token → user id, checked against the users table and the user's token not-before time. Throws GatewayError
   * with a 4001 code, or GW_ERR_DISCONNECTED (4002) for a token issued before the user was disconnected.
   */
  async #authenticate(token: string, session = false): Promise<VerifiedToken> {
    const verified = await this.#verify(token, session);
    await this.#checkUser(verified);
    return verified;
  }

  /** The token's signature and claims (no database read; `#checkUser` and `#open` check the disconnects). */
  #verify(token: string, session: boolean): Promise<VerifiedToken> {
    return session && this.#sessionKey ? verifySessionToken(token, this.#sessionKey) : verifyToken(token, this.#options.tokens);
  }

  /** The user exists and the token is not older than the user's not-before time, in the database. */
  async #checkUser(verified: VerifiedToken): Promise<void> {
    const state = (await this.#authStates.get(verified.userId))!;
    if (!state.exists) throw new GatewayError('GW_ERR_AUTH_UNKNOWN_USER');
    if (issuedTooEarly(verified.issuedAt, state.notBefore)) throw new GatewayError('GW_ERR_DISCONNECTED');
    if (this.#revokedHere(verified)) throw new GatewayError('GW_ERR_DISCONNECTED');
  }

  /** A disconnect this node received after the token's database check (which then missed it) still counts. */
  #revokedHere(verified: VerifiedToken): boolean {
    const notBefore = this.#recentDisconnects.get(verified.userId);
    return notBefore !== undefined && issuedTooEarly(verified.issuedAt, notBefore);
  }

  /**
   * Registers the socket and joins it to its user's channel (recovering `since` of the auth frame); `connected`
   * carries the channel's position, and frames that waited in the inbox are handled after it.
   */
  #open(conn: Connection, verified: VerifiedToken, since: StreamPosition | undefined): void {
    if (conn.state !== 'authenticating') return;
    const { hub, config } = this.#options;
    const { userId } = verified;
    if (this.#revokedHere(verified)) return this.#failAuth(conn, 'GW_ERR_DISCONNECTED');
    if (hub.userConnections(userId).size >= config.limits.maxSocketsPerUser) {
      return this.#failAuth(conn, 'GW_ERR_TOO_MANY_CONNECTIONS');
    }
    conn.userId = userId;
    this.#addressLimits.authenticated(conn.address);
    conn.expiresAt = verified.expiresAt;
    conn.issuedAt = verified.issuedAt;
    hub.addConnection(conn);
    // The head read of the user's channel may be what checks the user (#startAuth): AUTH_TIMEOUT_MS runs until it is done.
    conn.authInFlight = true;
    const channel = userChannel(userId);
    const key = channelKey(channel);
    void (async () => {
      // `connected` once the user's channel is routed here and its head is read: no later event of it is missed. A
      // disconnect committed before that read (which the token check may have missed) is in the user's state read
      // with the head (`userHeadRead`); one committed after it is an event on the channel.
      if (await hub.join(conn, key, channel, since, (position) => this.#announce(conn, key, position))) {
        this.#tokenLifetime.start(conn);
        return void this.#pump(conn);
      }
      // The user's channel was reset while this socket joined it: let the client reconnect.
      if (conn.state === 'authenticating') conn.close('GW_ERR_INTERNAL');
    })().catch((err: unknown) => {
      if (conn.state === 'authenticating') return this.#authUnavailable(conn, errorSummary(err));
      this.#options.logger.error({ err }, "the user's channel could not be read");
      this.#options.metrics.errors.inc({ code: 'GW_ERR_INTERNAL' });
      conn.close('GW_ERR_INTERNAL');
    });
  }

  /** The socket is open: `connected` with its user's channel and where that channel's stream continues. */
  #announce(conn: Connection, key: string, position: JoinPosition): void {
    if (conn.authTimer) clearTimeout(conn.authTimer);
    conn.authTimer = null;
    conn.authInFlight = false;
    conn.state = 'open';
    this.#options.logger.debug({ connectionId: conn.id, userId: conn.userId }, 'websocket authenticated');
    conn.sendFrame({
      type: 'connected',
      data: { userId: conn.userId!, connectionId: conn.id, serverTime: Date.now(), channel: key, ...position },
    });
  }

  #failAuth(conn: Connection, code: Code): void {
    if (conn.state === 'closing') return;
    this.#options.metrics.authFailures.inc({ code });
    this.#options.logger.info({ connectionId: conn.id, code }, 'websocket authentication refused');
    conn.close(code);
  }

  /**
   * Forgets that a user exists, on this node, so the next `creator` subscription to it reads the database
   * (a `user-deleted` event; the disconnect API).
   */
  invalidateUser(userId: string): void {
    this.#users.invalidate(userId);
  }

  /** The socket closed, for whatever reason: forget it everywhere. */
  closed(conn: Connection): void {
    if (conn.authTimer) clearTimeout(conn.authTimer);
    this.#tokenLifetime.stop(conn);
    if (this.#connections.has(conn)) this.#addressLimits.closed(conn.address, conn.userId !== null);
    conn.state = 'closing';
    conn.inbox.length = 0;
    this.#connections.delete(conn);
    this.#options.hub.removeConnection(conn);
  }

  /**
   * After an entitlement event for `userId`, checks that user's `post` subscriptions on this node again; those
   * the policy no longer allows end with `unsubscribed` (reason `access_revoked`) and get no further events.
   */
  async recheckPostAccess(userId: string): Promise<void> {
    const conns = [...this.#options.hub.userConnections(userId)];
    const postIds = new Set<string>();
    for (const conn of conns) for (const ch of conn.channels.values()) if (ch.type === 'post') postIds.add(ch.id);
    if (postIds.size === 0) return;
    let revoked: Set<string>;
    try {
      revoked = await revokedPosts(this.#options.db.orm, userId, [...postIds]);
    } catch (err) {
      this.#options.logger.error({ err }, 'could not re-check post access');
      return;
    }
    for (const conn of conns) {
      for (const [key, ch] of [...conn.channels]) {
        if (ch.type !== 'post' || !revoked.has(ch.id)) continue;
        this.#options.hub.unsubscribe(conn, key);
        conn.sendFrame({
          type: 'unsubscribed',
          data: { channel: { type: 'post', postId: ch.id }, channelKey: key, reason: 'access_revoked' },
        });
      }
    }
  }

  /** An internal event reached this node (hub.ts never forwards those to sockets). */
  handleInternalEvent(message: BrokerMessage): void {
    if (message.type !== DISCONNECT_EVENT || !message.channel.startsWith('user_')) return;
    const { notBefore } = (JSON.parse(message.encoded) as { data: DisconnectData }).data;
    this.disconnectUser(message.channel.slice('user_'.length), notBefore);
  }

  /** Closes the user's sockets on this node whose token was issued before `notBefore` with 4002. */
  disconnectUser(userId: string, notBefore: number): void {
    this.#rememberDisconnect(userId, notBefore);
    let closed = 0;
    for (const conn of [...this.#options.hub.userConnections(userId)]) {
      if (!issuedTooEarly(conn.issuedAt, notBefore)) continue;
      conn.close('GW_ERR_DISCONNECTED');
      closed++;
    }
    this.#options.logger.info({ userId, sockets: closed }, 'user disconnected by the API');
  }

  /**
   * The user's state, read with the head of their channel (the hub's `onUserHead`): the user's sockets here that it
   * no longer admits are refused (still authenticating) or closed: 4002 for a token issued before the user's
   * not-before time, 4001 when the user is gone.
   */
  userHeadRead(userId: string, state: UserAuthState): void {
    if (state.notBefore !== null) this.#rememberDisconnect(userId, state.notBefore);
    for (const conn of [...this.#options.hub.userConnections(userId)]) {
      const code = !state.exists ? 'GW_ERR_AUTH_UNKNOWN_USER' : issuedTooEarly(conn.issuedAt, state.notBefore) ? 'GW_ERR_DISCONNECTED' : null;
      if (code === null) continue;
      if (conn.state === 'authenticating') this.#failAuth(conn, code);
      else conn.close(code);
    }
  }

  /** Sockets whose token check ran before this not-before time was known here are refused by `#revokedHere`. */
  #rememberDisconnect(userId: string, notBefore: number): void {
    const latest = Math.max(notBefore, this.#recentDisconnects.get(userId) ?? 0);
    this.#recentDisconnects.delete(userId); // re-inserted last: the map drops its oldest entry first
    this.#recentDisconnects.set(userId, latest);
    if (this.#recentDisconnects.size > RECENT_DISCONNECTS) {
      this.#recentDisconnects.delete(this.#recentDisconnects.keys().next().value!);
    }
  }

  #beat(): void {
    const now = Date.now();
    const { heartbeatTimeoutMs } = this.#options.config.timings;
    for (const conn of this.#connections) {
      if (now - conn.lastSeen > heartbeatTimeoutMs) {
        conn.socket.terminate();
      } else if (conn.state !== 'closing') {
        conn.socket.ping();
      }
    }
  }

  /**
   * Refuses new upgrades and closes every socket with 1012, spread evenly over `windowMs` so clients do not all
   * reconnect at the same instant. Resolves when all are closed (stragglers are terminated after a grace period).
   */
  async drain(windowMs: number): Promise<void> {
    this.#draining = true;
    const conns = [...this.#connections];
    const step = conns.length > 1 ? windowMs / conns.length : 0;
    const timers = conns.map((conn, i) => setTimeout(() => conn.close('GW_ERR_SERVER_RESTART'), Math.floor(i * step)));
    const allClosed = Promise.all(conns.map((c) => waitClosed(c)));
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, windowMs + DRAIN_GRACE_MS).unref());
    await Promise.race([allClosed, deadline]);
    for (const t of timers) clearTimeout(t);
    for (const conn of this.#connections) conn.socket.terminate();
  }

  /** Stops the heartbeat and terminates whatever is still open. */
  close(): void {
    clearInterval(this.#heartbeat);
    this.#draining = true;
    for (const conn of this.#connections) conn.socket.terminate();
    this.#wss.close();
  }
}

/** What the upgrade request carried: a token (a sealed NextAuth session when `session`), a refusal, or nothing. */
type UpgradeCredential = { token: string; session?: boolean } | { refused: Code } | null;

const STATUS_TEXT: Record<number, string> = { 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' };

/** Answers an upgrade request with an HTTP error (and the code as a JSON error body) and closes the connection. */
function refuseUpgrade(socket: Duplex, refusal: { status: number; code?: Code }, metrics: Metrics): void {
  metrics.upgradeRefusals.inc({ status: String(refusal.status) });
  const body = refusal.code ? JSON.stringify({ error: { code: refusal.code, message: Codes[refusal.code].reason } }) : '';
  const type = body ? 'Content-Type: application/json\r\n' : '';
  // The HTTP server allows half-open connections: without the destroy, a client that never closes its side would
  // keep the descriptor.
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status] ?? 'Error'}\r\nConnection: close\r\n${type}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function waitClosed(conn: Connection): Promise<void> {
  if (conn.socket.readyState === conn.socket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => conn.socket.once('close', () => resolve()));
}

function socketOnMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const conn = (this as GatewaySocket).connection;
  if (isBinary) {
    conn.lastSeen = Date.now();
    conn.sendFrame({ type: 'error', data: { code: 'GW_ERR_BINARY_FRAME', message: Codes.GW_ERR_BINARY_FRAME.reason } });
    return;
  }
  (this as GatewaySocket).owner.receive(conn, data.toString());
}

function socketOnPong(this: WebSocket): void {
  (this as GatewaySocket).connection.lastSeen = Date.now();
}

function socketOnClose(this: WebSocket): void {
  (this as GatewaySocket).owner.closed((this as GatewaySocket).connection);
}

function socketOnError(this: WebSocket): void {
  // ws emits 'error' for protocol violations (e.g. a frame over maxPayload → close 1009) and closes the socket;
  // the 'close' listener does the clean-up.
}

function noop(): void {}

/** A `ping` frame, recognised without queueing it (only short frames are decoded for this). */
function isPing(text: string): boolean {
  if (text.length > 64) return false;
  const decoded = decodeClientFrame(text);
  return decoded.ok && decoded.frame.type === 'ping';
}

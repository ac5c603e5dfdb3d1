/**
 * The connection: authenticates with the first frame, keeps its subscriptions (resubscribing with `since` after any
 * reconnect or `resync`), reconnects forever with full-jitter backoff when the close code allows it, refreshes the
 * token before it expires, and delivers every event id once.
 */
import {
  parseChannel,
  shouldReconnect,
  userChannel,
  type ChannelObject,
  type EventFrame,
  type NotificationRow,
} from '@fonana-realtime/protocol';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { Emitter } from './emitter.ts';
import type { EventMap, Events, TypedEvent } from './events.ts';
import { RecentIds } from './recent-ids.ts';
import { Subscription, type Cursor, type RecoveryLost } from './subscription.ts';
import { refreshDelay, tokenTimes } from './token.ts';
import { watchCreator, watchPost, type CreatorWatch, type PostWatch } from './watch.ts';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'closed';

/** Why the client asks for a token: the app may return a cached one for `connect`, must mint a new one otherwise. */
export type TokenReason = 'connect' | 'reconnect' | 'refresh' | 'rejected' | 'http';

/** The part of the WebSocket API the client uses (the browser's, or `ws` in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: any) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** WebSocket URL of the gateway, e.g. `wss://rt.example.com/ws`. */
  url: string;
  /** Returns the user's JWT; called on every (re)connect and before the token expires. */
  getToken: (reason: TokenReason) => string | Promise<string>;
  /** HTTP base URL of the gateway for posts (default: `url` with http(s) and without the `/ws` path). */
  httpUrl?: string;
  /** The WebSocket class; default the global one (pass `ws` in Node < 22). */
  WebSocket?: WebSocketConstructor;
  /** The fetch function for posts; default the global one. */
  fetch?: typeof fetch;
  /** Reconnect delays (default 0.5 s doubling to 20 s, full jitter, reset after a stable minute). */
  backoff?: BackoffOptions;
  /** Interval of the client's own `ping`, ms; a connection silent for a further `pongTimeoutMs` is dropped. */
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  /** Time from opening a socket to `connected`, ms, after which the attempt is dropped. Default 10 000. */
  connectTimeoutMs?: number;
  /** Start connecting at once (default true). */
  autoConnect?: boolean;
}

/** What a close looked like, for `disconnected` listeners. */
export interface Disconnect {
  code: number;
  reason: string;
  /** Whether the client will reconnect (false: `close()` was called or the code forbids it). */
  willReconnect: boolean;
}

export interface ClientEvents<E extends EventMap> {
  state: { state: ConnectionState; previous: ConnectionState };
  connected: { userId: string; connectionId: string };
  disconnected: Disconnect;
  /** A reconnect attempt is scheduled in `delayMs` (the backoff's choice; `attempt` counts from 1 since the last reset). */
  reconnecting: { attempt: number; delayMs: number };
  /** Every event, once per id. */
  event: TypedEvent<E>;
  /** Missed events of a channel could not be replayed: refetch what depends on it. */
  recovery: RecoveryLost;
  /** The newest unread notifications and their count (sent after subscribing to one's own notifications). */
  unread: { notifications: NotificationRow[]; count: number };
  /** An `error` frame, or a failure to get a token. */
  error: { code: string; message: string; channel?: string };
  /** The token was replaced in band. */
  authenticated: { userId: string; expiresAt: number };
}

const DEFAULT_PING_MS = 25_000;
const DEFAULT_PONG_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Errors after which a subscribe is not repeated: the answer would be the same. */
const FINAL_SUBSCRIBE_ERRORS = new Set(['GW_ERR_CHANNEL_FORBIDDEN', 'GW_ERR_CHANNEL_NOT_FOUND', 'GW_ERR_UNKNOWN_CHANNEL', 'GW_ERR_TOO_MANY_CHANNELS']);
const OPEN = 1;

export class RealtimeClient<Custom extends EventMap = {}> {
  readonly #options: ClientOptions;
  readonly #WebSocket: WebSocketConstructor;
  readonly #emitter = new Emitter<ClientEvents<Events<Custom>>>();
  readonly #backoff: Backoff;
  readonly #subs = new Map<string, Subscription<Events<Custom>>>();
  readonly #seen = new RecentIds(10_000);
  #state: ConnectionState = 'closed';
  #ws: WebSocketLike | null = null;
  #token: string | null = null;
  #userId: string | null = null;
  #user: Subscription<Events<Custom>> | null = null;
  #userSentSince = false;
  #connectedOnce = false;
  #closedByUser = true;
  #tokenReason: TokenReason = 'connect';
  #refreshing = false;
  #attempt = 0; // bumps on every connect attempt: stale async steps of an older attempt stop
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #detach: (() => void)[] = [];
  #paused = false;
  #unread: { notifications: NotificationRow[]; count: number } | null = null;

  constructor(options: ClientOptions) {
    this.#options = options;
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new TypeError('no WebSocket: pass options.WebSocket (e.g. the `ws` package in Node)');
    this.#WebSocket = WS;
    this.#backoff = new Backoff(options.backoff);
    this.#listenToEnvironment();
    if (options.autoConnect !== false) this.connect();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The authenticated user's id (null before the first `connected`). */
  get userId(): string | null {
    return this.#userId;
  }

  /** The user's own channel (`user_<id>`): purchases, subscription changes, notifications. Null before `connected`. */
  get user(): Subscription<Events<Custom>> | null {
    return this.#user;
  }

  /** The last `unread_notifications` the gateway sent (null before subscribing to one's own notifications). */
  get unread(): { notifications: NotificationRow[]; count: number } | null {
    return this.#unread;
  }

  /** Delay caps and attempts of the reconnect loop (read-only view, for indicators and tests). */
  get backoff(): Backoff {
    return this.#backoff;
  }

  on<K extends keyof ClientEvents<Events<Custom>>>(event: K, listener: (value: ClientEvents<Events<Custom>>[K]) => void): () => void {
    return this.#emitter.on(event, listener);
  }

  /** Listens to one event type on every channel, with its typed `data`. */
  onEvent<T extends keyof Events<Custom> & string>(
    type: T,
    listener: (data: Events<Custom>[T], frame: EventFrame<T, Events<Custom>[T]>) => void,
  ): () => void {
    return this.#emitter.on('event', (frame) => {
      if (frame.type === type) listener(frame.data as Events<Custom>[T], frame as EventFrame<T, Events<Custom>[T]>);
    });
  }

  /** Subscribes to a channel (object form or `type:id`); the same channel twice gives the same subscription. */
  subscribe(channel: ChannelObject | string): Subscription<Events<Custom>> {
    const parsed = parseChannel(channel);
    if (!parsed) throw new TypeError(`not a channel: ${JSON.stringify(channel)}`);
    const existing = this.#subs.get(`${parsed.type}_${parsed.id}`);
    if (existing) return existing;
    const sub = new Subscription<Events<Custom>>(parsed, (s) => this.#release(s));
    this.#subs.set(sub.key, sub);
    if (this.#state === 'connected') this.#sendSubscribe(sub);
    return sub;
  }

  /** The post as this user may see it, kept current as entitlements change. */
  watchPost(postId: string): PostWatch {
    return watchPost(this, postId);
  }

  /** A creator's posts as this user may see them, kept current as entitlements change. */
  watchCreator(creatorId: string, options: { limit?: number } = {}): CreatorWatch {
    return watchCreator(this, creatorId, options);
  }

  /** GET on the gateway's HTTP API with the user's token. Rejects with an Error carrying `status` and `code`. */
  async getJson<T>(path: string): Promise<T> {
    const fetchFn = this.#options.fetch ?? globalThis.fetch;
    const token = await this.#tokenForHttp();
    const res = await fetchFn(`${this.#httpUrl()}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
    if (!res.ok) {
      const err = new Error(body?.error?.message ?? `HTTP ${res.status}`) as Error & { status: number; code?: string };
      err.status = res.status;
      if (body?.error?.code) err.code = body.error.code;
      throw err;
    }
    return body as T;
  }

  /** Starts (or restarts after `close()`) the connection loop. */
  connect(): void {
    if (!this.#closedByUser) return;
    this.#closedByUser = false;
    this.#backoff.reset();
    this.#open();
  }

  /** Closes the connection and stops reconnecting; subscriptions are kept for a later `connect()`. */
  close(): void {
    this.#closedByUser = true;
    this.#clearTimers();
    this.#attempt++;
    const ws = this.#ws;
    this.#ws = null;
    if (ws) this.#drop(ws, 1000, 'client closed');
    for (const sub of this.#subs.values()) sub.setState('subscribing');
    this.#setState('closed');
  }

  /** `close()` and remove every listener, including the browser's online/offline/freeze hooks. */
  destroy(): void {
    this.close();
    for (const off of this.#detach.splice(0)) off();
    this.#emitter.clear();
  }

  // -------------------------------------------------------------------------------------------
  // Connecting

  async #open(): Promise<void> {
    const attempt = ++this.#attempt;
    this.#setState(this.#connectedOnce ? 'reconnecting' : 'connecting');
    let token: string;
    try {
      token = await this.#options.getToken(this.#tokenReason);
    } catch (err) {
      if (attempt !== this.#attempt) return;
      this.#emitter.emit('error', { code: 'TOKEN_UNAVAILABLE', message: `getToken failed: ${(err as Error)?.message ?? err}` });
      return this.#scheduleReconnect();
    }
    if (attempt !== this.#attempt || this.#closedByUser) return;
    this.#token = token;
    let ws: WebSocketLike;
    try {
      ws = new this.#WebSocket(this.#options.url);
    } catch (err) {
      this.#emitter.emit('error', { code: 'CONNECT_FAILED', message: (err as Error)?.message ?? String(err) });
      return this.#scheduleReconnect();
    }
    this.#ws = ws;
    this.#timer('connect', this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, () => this.#lost(ws, 4000, 'connect timeout'));
    ws.onopen = () => this.#onOpen(ws, token);
    ws.onmessage = (message) => this.#onMessage(ws, message.data);
    ws.onclose = (event) => this.#onClose(ws, event.code, event.reason);
    ws.onerror = () => {}; // a close event follows
  }

  #onOpen(ws: WebSocketLike, token: string): void {
    const cursor = this.#user?.cursor;
    this.#userSentSince = !!cursor;
    ws.send(JSON.stringify({ type: 'auth', token, ...(cursor ? { since: { ...cursor } } : {}) }));
    // Frames sent before authentication finished are handled in order once it has: no round trip lost.
    for (const sub of this.#subs.values()) this.#sendSubscribe(sub);
  }

  #onClose(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.#ws) return;
    this.#ws = null;
    this.#clearTimers();
    for (const sub of this.#subs.values()) sub.setState('subscribing');
    const willReconnect = !this.#closedByUser && shouldReconnect(code);
    this.#emitter.emit('disconnected', { code, reason, willReconnect });
    if (this.#closedByUser) return this.#setState('closed');
    if (!willReconnect) {
      this.#closedByUser = true;
      return this.#setState('closed');
    }
    // 4001 (token refused) and 4002 (disconnected by the server): only a new token may get back in.
    if (code === 4001 || code === 4002) this.#tokenReason = 'rejected';
    else this.#tokenReason = 'reconnect';
    this.#scheduleReconnect();
  }

  /** Treats a socket as gone at once (a dead link may take minutes to report its close). */
  #lost(ws: WebSocketLike, code: number, reason: string): void {
    this.#drop(ws, 4000, reason);
    this.#onClose(ws, code, reason);
  }

  #drop(ws: WebSocketLike, code: number, reason: string): void {
    ws.onopen = ws.onmessage = ws.onclose = null;
    // Not null: `ws` in Node emits 'error' when a connecting socket is closed, and an EventEmitter without an
    // 'error' listener throws it out of the process.
    ws.onerror = () => {};
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  #scheduleReconnect(): void {
    if (this.#closedByUser) return;
    if (this.#isOffline()) return this.#setState('offline');
    this.#setState(this.#connectedOnce ? 'reconnecting' : 'connecting');
    if (this.#paused) return;
    const delayMs = this.#backoff.next();
    this.#timer('reconnect', delayMs, () => void this.#open());
    this.#emitter.emit('reconnecting', { attempt: this.#backoff.attempt, delayMs });
  }

  /** Back online or thawed: try at once instead of waiting out the backoff. */
  #resumeNow(): void {
    this.#paused = false;
    if (this.#closedByUser) return;
    if (this.#ws && this.#state === 'connected') return this.#sendPing();
    if (this.#ws) return; // an attempt is in flight
    this.#cancelTimer('reconnect');
    this.#backoff.reset();
    void this.#open();
  }

  #listenToEnvironment(): void {
    const g = globalThis as unknown as { addEventListener?: Function; removeEventListener?: Function; document?: any };
    const listen = (target: any, event: string, fn: () => void) => {
      if (typeof target?.addEventListener !== 'function') return;
      target.addEventListener(event, fn);
      const remove = target.removeEventListener.bind(target);
      this.#detach.push(() => remove(event, fn));
    };
    listen(g, 'online', () => this.#resumeNow());
    listen(g, 'offline', () => {
      if (this.#closedByUser) return;
      this.#cancelTimer('reconnect');
      const ws = this.#ws;
      if (ws) this.#lost(ws, 4000, 'offline');
      else this.#setState('offline');
    });
    listen(g.document, 'freeze', () => {
      this.#paused = true;
      this.#cancelTimer('reconnect');
    });
    listen(g.document, 'resume', () => this.#resumeNow());
    listen(g.document, 'visibilitychange', () => {
      if (g.document.visibilityState === 'visible' && this.#state === 'reconnecting' && !this.#ws) this.#resumeNow();
    });
  }

  #isOffline(): boolean {
    const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
    return nav?.onLine === false;
  }

  // -------------------------------------------------------------------------------------------
  // Frames

  #onMessage(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.#ws || typeof data !== 'string') return;
    let frame: { type?: unknown; id?: unknown; channel?: unknown; offset?: unknown; data?: any };
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    this.#cancelTimer('pong'); // any frame proves the link is alive
    if (typeof frame.id === 'string' && typeof frame.channel === 'string' && typeof frame.type === 'string') {
      return this.#onEvent(frame as EventFrame);
    }
    switch (frame.type) {
      case 'connected':
        return this.#onConnected(frame.data ?? {});
      case 'subscribed':
        return this.#onSubscribed(frame.data ?? {});
      case 'unsubscribed':
        return this.#onUnsubscribed(frame.data ?? {});
      case 'authenticated':
        this.#scheduleRefresh();
        return this.#emitter.emit('authenticated', frame.data);
      case 'token-expiring': {
        // A warning about a token already replaced (our fresh `auth` crossed it on the wire) needs no new token.
        const current = this.#token ? tokenTimes(this.#token).expiresAt : null;
        if (current !== null && current > frame.data.expiresAt) return;
        return void this.#refresh();
      }
      case 'unread_notifications':
        this.#unread = frame.data;
        return this.#emitter.emit('unread', frame.data);
      case 'error':
        return this.#onError(frame.data ?? {});
    }
  }

  #onConnected(data: { userId: string; connectionId: string; offset?: number; epoch?: string; recovered?: boolean }): void {
    this.#cancelTimer('connect');
    if (this.#userId !== data.userId) {
      // First connection, or the app switched users: the old user's channel position means nothing here.
      this.#userId = data.userId;
      this.#user = new Subscription<Events<Custom>>(userChannel(data.userId), (s) => this.#release(s));
      this.#userSentSince = false;
    }
    const user = this.#user!;
    this.#settleCursor(user, this.#userSentSince, data);
    user.setState('subscribed');
    this.#tokenReason = 'reconnect';
    this.#connectedOnce = true;
    this.#setState('connected');
    this.#timer('stable', this.#backoff.stableMs, () => this.#backoff.reset());
    this.#scheduleRefresh();
    this.#schedulePing();
    this.#emitter.emit('connected', { userId: data.userId, connectionId: data.connectionId });
  }

  /**
   * The position after a (re)subscription. Replayed events follow a recovered `subscribed`, so the cursor stays and
   * moves with them; anything else starts from the server's offset, and a resubscription that did not recover
   * (or a server without history) is reported so the app refetches.
   */
  #settleCursor(sub: Subscription<Events<Custom>>, sentSince: boolean, data: { offset?: number; epoch?: string; recovered?: boolean }): void {
    const recovered = sentSince && data.recovered === true;
    if (!recovered) {
      sub.cursor = typeof data.offset === 'number' && typeof data.epoch === 'string' ? { offset: data.offset, epoch: data.epoch } : null;
      if (sub.everSubscribed) {
        const lost: RecoveryLost = { channel: sub.key, recovered: false };
        sub.emit('recovery', lost);
        this.#emitter.emit('recovery', lost);
      }
    }
    sub.everSubscribed = true;
  }

  #onSubscribed(data: { channelKey?: string; offset?: number; epoch?: string; recovered?: boolean }): void {
    const sub = this.#subFor(data.channelKey);
    if (!sub) return;
    this.#settleCursor(sub, sub.sentSince, data);
    sub.setState('subscribed');
  }

  #onUnsubscribed(data: { channelKey?: string; reason?: string }): void {
    const sub = this.#subFor(data.channelKey);
    if (!sub || !data.reason) return; // the answer to our own unsubscribe
    if (data.reason === 'resync') {
      // The server could not fill a gap: ask again from where we are.
      return this.#sendSubscribe(sub);
    }
    this.#subs.delete(sub.key);
    sub.setState('unsubscribed');
    sub.emit('ended', { reason: data.reason });
  }

  #onError(data: { code?: string; message?: string; channel?: unknown }): void {
    const parsed = data.channel === undefined ? null : parseChannel(data.channel, false);
    const key = parsed ? `${parsed.type}_${parsed.id}` : undefined;
    this.#emitter.emit('error', { code: data.code ?? 'UNKNOWN', message: data.message ?? '', ...(key ? { channel: key } : {}) });
    const sub = this.#subFor(key);
    if (!sub || sub.state === 'subscribed') return;
    if (data.code && FINAL_SUBSCRIBE_ERRORS.has(data.code)) {
      this.#subs.delete(sub.key);
      sub.setState('failed');
      sub.emit('ended', { reason: data.code, ...(data.message ? { message: data.message } : {}) });
    } else if (data.code === 'GW_ERR_SUBSCRIBE_FAILED') {
      // The access check could not run: try again a little later (jittered, so a fleet does not retry in step).
      this.#timer(`resubscribe:${sub.key}`, 1000 + Math.random() * 4000, () => {
        if (this.#state === 'connected' && this.#subs.get(sub.key) === sub) this.#sendSubscribe(sub);
      });
    }
  }

  #onEvent(frame: EventFrame): void {
    const sub = this.#subFor(frame.channel);
    if (sub && typeof frame.offset === 'number') sub.advance(frame.offset);
    if (!this.#seen.add(frame.id)) return; // delivered before (at least once on the wire, exactly once here)
    sub?.emit('event', frame as never);
    this.#emitter.emit('event', frame as never);
  }

  #subFor(key: string | undefined): Subscription<Events<Custom>> | undefined {
    if (!key) return undefined;
    if (this.#user?.key === key) return this.#user;
    return this.#subs.get(key);
  }

  #sendSubscribe(sub: Subscription<Events<Custom>>): void {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN) return;
    sub.sentSince = !!sub.cursor;
    sub.setState('subscribing');
    ws.send(JSON.stringify({ type: 'subscribe', channel: sub.name, ...(sub.cursor ? { since: { ...sub.cursor } } : {}) }));
  }

  #release(sub: Subscription<Events<Custom>>): void {
    if (sub === this.#user) return; // the user's channel is implicit and cannot be left
    if (this.#subs.get(sub.key) !== sub) return;
    this.#subs.delete(sub.key);
    sub.setState('unsubscribed');
    const ws = this.#ws;
    if (ws && ws.readyState === OPEN) ws.send(JSON.stringify({ type: 'unsubscribe', channel: sub.name }));
  }

  // -------------------------------------------------------------------------------------------
  // Token refresh and liveness

  #scheduleRefresh(): void {
    this.#cancelTimer('refresh');
    if (!this.#token) return;
    const { expiresAt, issuedAt } = tokenTimes(this.#token);
    if (expiresAt === null) return;
    this.#timer('refresh', refreshDelay(expiresAt, issuedAt, Date.now()), () => void this.#refresh());
  }

  /** Gets a fresh token and sends it in band; the server keeps the socket and its subscriptions. */
  async #refresh(): Promise<void> {
    if (this.#refreshing || this.#state !== 'connected') return;
    this.#cancelTimer('refresh');
    this.#refreshing = true;
    const ws = this.#ws;
    try {
      const token = await this.#options.getToken('refresh');
      if (ws !== this.#ws || !ws || ws.readyState !== OPEN) return;
      if (token === this.#token) {
        // Nothing newer yet: ask again later, not in a loop. If it expires first, the close (4001) brings a new one.
        const { expiresAt } = tokenTimes(token);
        const left = (expiresAt ?? Date.now()) - Date.now();
        this.#timer('refresh', Math.min(30_000, Math.max(1000, left / 2)), () => void this.#refresh());
        return;
      }
      this.#token = token;
      ws.send(JSON.stringify({ type: 'auth', token })); // `authenticated` schedules the next refresh
    } catch (err) {
      this.#emitter.emit('error', { code: 'TOKEN_UNAVAILABLE', message: `getToken failed: ${(err as Error)?.message ?? err}` });
      this.#timer('refresh', 5000, () => void this.#refresh());
    } finally {
      this.#refreshing = false;
    }
  }

  async #tokenForHttp(): Promise<string> {
    const token = this.#token;
    const expiresAt = token ? tokenTimes(token).expiresAt : null;
    if (token && (expiresAt === null || expiresAt - Date.now() > 5000)) return token;
    return this.#options.getToken('http');
  }

  #schedulePing(): void {
    this.#timer('ping', this.#options.pingIntervalMs ?? DEFAULT_PING_MS, () => this.#sendPing());
  }

  #sendPing(): void {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN) return;
    ws.send('{"type":"ping"}');
    this.#timer('pong', this.#options.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS, () => this.#lost(ws, 4000, 'no answer to ping'));
    this.#schedulePing();
  }

  // -------------------------------------------------------------------------------------------

  #setState(state: ConnectionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#emitter.emit('state', { state, previous });
  }

  #httpUrl(): string {
    if (this.#options.httpUrl) return this.#options.httpUrl.replace(/\/$/, '');
    const url = new URL(this.#options.url);
    url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    return `${url.origin}${url.pathname.replace(/\/ws\/?$/, '').replace(/\/$/, '')}`;
  }

  #timer(name: string, ms: number, fn: () => void): void {
    this.#cancelTimer(name);
    this.#timers.set(
      name,
      setTimeout(() => {
        this.#timers.delete(name);
        fn();
      }, ms),
    );
  }

  #cancelTimer(name: string): void {
    const timer = this.#timers.get(name);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(name);
  }

  #clearTimers(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}

/** Creates a client and starts connecting. `Custom` types the platform's own events: `createClient<{ 'post-liked': {postId: string} }>(…)`. */
export function createClient<Custom extends EventMap = {}>(options: ClientOptions): RealtimeClient<Custom> {
  return new RealtimeClient<Custom>(options);
}

export type { Cursor };

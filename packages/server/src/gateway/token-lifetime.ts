/**
 * The lifetime of a socket's token (one timer for all sockets, on the earliest due step):
 *
 *   auth ──▶ … ──(exp − lead)──▶ `token-expiring` ──(exp + TOKEN_EXPIRY_GRACE_MS)──▶ close 4001
 *                                      │ a fresh `auth` frame
 *                                      └──▶ `authenticated`, the timer starts over for the new exp
 *
 * lead = min(TOKEN_REFRESH_WINDOW_MS, 10% of the token's lifetime), the lifetime being exp − iat (exp − the time of
 * authentication for a token without iat): a short-lived token is not warned the moment it arrives, which would have
 * a client refresh in a loop. Each expiry is warned once, so re-sending the same token does not bring another warning.
 */
import type { Connection } from './connection.ts';

/** setTimeout's largest delay; a longer wait is taken in steps. */
const MAX_TIMER_MS = 2_147_483_647;
/** The warning comes at the latest this share of the lifetime before exp. */
const LEAD_SHARE = 0.1;

/** When `token-expiring` is due (ms since the epoch) for a token with this exp and iat (null: none), read at `now`. */
export function warningTime(expiresAt: number, issuedAt: number | null, now: number, refreshWindowMs: number): number {
  const lifetime = Math.max(0, expiresAt - (issuedAt ?? now));
  return expiresAt - Math.min(refreshWindowMs, Math.floor(lifetime * LEAD_SHARE));
}

export interface TokenLifetimeOptions {
  readonly refreshWindowMs: number;
  readonly graceMs: number;
}

export class TokenLifetime {
  readonly #options: TokenLifetimeOptions;
  /** The sockets with a pending step, a binary min-heap on `lifetimeDue` (each socket knows its index). */
  readonly #heap: Connection[] = [];
  /** One timer for all sockets, set for the heap's first due time (a timer per socket cost ~300 bytes each). */
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;

  constructor(options: TokenLifetimeOptions) {
    this.#options = options;
  }

  /** (Re)starts the timer for `conn.expiresAt`; call after every successful authentication. */
  start(conn: Connection): void {
    const now = Date.now();
    conn.warnAt = warningTime(conn.expiresAt, conn.issuedAt, now, this.#options.refreshWindowMs);
    this.#step(conn, now);
    this.#arm();
  }

  stop(conn: Connection): void {
    this.#remove(conn);
  }

  #step(conn: Connection, now: number): void {
    this.#remove(conn);
    if (conn.state !== 'open') return;
    const closeAt = conn.expiresAt + this.#options.graceMs;
    if (now >= closeAt) return conn.close('GW_ERR_AUTH_EXPIRED');
    if (conn.warnedExpiresAt !== conn.expiresAt && now >= conn.warnAt) {
      conn.warnedExpiresAt = conn.expiresAt;
      conn.sendFrame({ type: 'token-expiring', data: { expiresAt: conn.expiresAt } });
    }
    this.#insert(conn, conn.warnedExpiresAt === conn.expiresAt ? closeAt : conn.warnAt);
  }

  readonly #run = (): void => {
    this.#timer = null;
    this.#timerAt = Infinity;
    const now = Date.now();
    while (this.#heap.length > 0 && this.#heap[0]!.lifetimeDue <= now) this.#step(this.#heap[0]!, now);
    this.#arm();
  };

  /** Sets the timer for the first due time, unless it is set for that time or earlier already. */
  #arm(): void {
    const first = this.#heap[0];
    if (!first) return;
    const now = Date.now();
    const at = Math.min(first.lifetimeDue, now + MAX_TIMER_MS);
    if (at >= this.#timerAt) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#run, Math.max(0, at - now));
    this.#timer.unref();
  }

  #insert(conn: Connection, due: number): void {
    conn.lifetimeDue = due;
    conn.lifetimeIndex = this.#heap.length;
    this.#heap.push(conn);
    this.#up(conn.lifetimeIndex);
  }

  #remove(conn: Connection): void {
    const i = conn.lifetimeIndex;
    if (i < 0) return;
    conn.lifetimeIndex = -1;
    const last = this.#heap.pop()!;
    if (last === conn) return;
    this.#heap[i] = last;
    last.lifetimeIndex = i;
    this.#down(i);
    this.#up(last.lifetimeIndex);
  }

  #up(i: number): void {
    const heap = this.#heap;
    const conn = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.lifetimeDue <= conn.lifetimeDue) break;
      heap[i] = parent;
      parent.lifetimeIndex = i;
      i = p;
    }
    heap[i] = conn;
    conn.lifetimeIndex = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const conn = heap[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= heap.length) break;
      if (c + 1 < heap.length && heap[c + 1]!.lifetimeDue < heap[c]!.lifetimeDue) c++;
      const child = heap[c]!;
      if (conn.lifetimeDue <= child.lifetimeDue) break;
      heap[i] = child;
      child.lifetimeIndex = i;
      i = c;
    }
    heap[i] = conn;
    conn.lifetimeIndex = i;
  }
}

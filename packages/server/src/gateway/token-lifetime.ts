/**
 * The lifetime of a socket's token, one timer per socket:
 *
 *   auth ──▶ … ──(exp − TOKEN_REFRESH_WINDOW_MS)──▶ `token-expiring` ──(exp + TOKEN_EXPIRY_GRACE_MS)──▶ close 4001
 *                                                        │ a fresh `auth` frame
 *                                                        └──▶ `authenticated`, the timer starts over for the new exp
 *
 * A token that arrives already inside the window gets `token-expiring` right away.
 */
import type { Connection } from './connection.ts';

/** setTimeout's largest delay; a longer wait is taken in steps. */
const MAX_TIMER_MS = 2_147_483_647;

export interface TokenLifetimeOptions {
  readonly refreshWindowMs: number;
  readonly graceMs: number;
}

export class TokenLifetime {
  readonly #options: TokenLifetimeOptions;

  constructor(options: TokenLifetimeOptions) {
    this.#options = options;
  }

  /** (Re)starts the timer for `conn.expiresAt`; call after every successful authentication. */
  start(conn: Connection): void {
    conn.expiryWarned = false;
    this.#step(conn);
  }

  stop(conn: Connection): void {
    if (conn.expiryTimer) clearTimeout(conn.expiryTimer);
    conn.expiryTimer = null;
  }

  #step(conn: Connection): void {
    this.stop(conn);
    if (conn.state !== 'open') return;
    const now = Date.now();
    const closeAt = conn.expiresAt + this.#options.graceMs;
    if (now >= closeAt) return conn.close('GW_ERR_AUTH_EXPIRED');
    const warnAt = conn.expiresAt - this.#options.refreshWindowMs;
    if (!conn.expiryWarned && now >= warnAt) {
      conn.expiryWarned = true;
      conn.sendFrame({ type: 'token-expiring', data: { expiresAt: conn.expiresAt } });
    }
    const next = conn.expiryWarned ? closeAt : warnAt;
    conn.expiryTimer = setTimeout(() => this.#step(conn), Math.min(next - now, MAX_TIMER_MS));
    conn.expiryTimer.unref();
  }
}

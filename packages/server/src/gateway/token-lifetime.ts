/**
 * The lifetime of a socket's token, one timer per socket:
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

  constructor(options: TokenLifetimeOptions) {
    this.#options = options;
  }

  /** (Re)starts the timer for `conn.expiresAt`; call after every successful authentication. */
  start(conn: Connection): void {
    conn.warnAt = warningTime(conn.expiresAt, conn.issuedAt, Date.now(), this.#options.refreshWindowMs);
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
    if (conn.warnedExpiresAt !== conn.expiresAt && now >= conn.warnAt) {
      conn.warnedExpiresAt = conn.expiresAt;
      conn.sendFrame({ type: 'token-expiring', data: { expiresAt: conn.expiresAt } });
    }
    const next = conn.warnedExpiresAt === conn.expiresAt ? closeAt : conn.warnAt;
    conn.expiryTimer = setTimeout(() => this.#step(conn), Math.min(next - now, MAX_TIMER_MS));
    conn.expiryTimer.unref();
  }
}

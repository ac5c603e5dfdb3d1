/**
 * Reconnect delays: exponential backoff with full jitter (a uniformly random delay between 0 and the exponential
 * cap), so a fleet of clients dropped at the same moment spreads its reconnects over the whole window instead of
 * arriving in waves.
 */
export interface BackoffOptions {
  /** Cap of the first attempt, ms. Default 500. */
  readonly minMs?: number;
  /** Largest cap, ms. Default 20 000. */
  readonly maxMs?: number;
  /** A connection that stayed up this long resets the attempt count, ms. Default 60 000. */
  readonly stableMs?: number;
  /** Source of randomness in [0, 1); tests pass a seeded one. */
  readonly random?: () => number;
}

export const DEFAULT_BACKOFF = { minMs: 500, maxMs: 20_000, stableMs: 60_000 } as const;

export class Backoff {
  readonly minMs: number;
  readonly maxMs: number;
  readonly stableMs: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.minMs = options.minMs ?? DEFAULT_BACKOFF.minMs;
    this.maxMs = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
    this.stableMs = options.stableMs ?? DEFAULT_BACKOFF.stableMs;
    this.#random = options.random ?? Math.random;
  }

  /** Attempts made since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The cap of the next attempt: minMs · 2^attempt, at most maxMs. */
  cap(): number {
    return Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.#attempt, 30));
  }

  /** The delay before the next attempt (full jitter: uniform in [0, cap)), counting the attempt. */
  next(): number {
    const delay = Math.floor(this.#random() * this.cap());
    this.#attempt++;
    return delay;
  }

  reset(): void {
    this.#attempt = 0;
  }
}

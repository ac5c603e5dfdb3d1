/**
 * Every `intervalMs`, announces subscriptions whose `validUntil` has passed (`subscription-updated`, status
 * `expired`, through the outbox). Safe to run in every process: each expiry is announced once.
 */
import type { Database } from '../db/client.ts';
import { announceExpiries } from '../db/subscriptions.ts';
import type { Logger } from '../logger.ts';

export class ExpirySweep {
  readonly #options: { db: Database; logger: Logger; intervalMs: number };
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(options: { db: Database; logger: Logger; intervalMs: number }) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => void this.sweepOnce(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** One pass (skipped while the previous one still runs). */
  async sweepOnce(): Promise<void> {
    if (this.#running) return;
    this.#running = announceExpiries(this.#options.db.orm)
      .then((n) => {
        if (n > 0) this.#options.logger.info({ expired: n }, 'announced expired subscriptions');
      })
      .catch((err: unknown) => this.#options.logger.warn({ err }, 'expiry sweep failed; will retry'))
      .finally(() => {
        this.#running = null;
      });
    await this.#running;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}

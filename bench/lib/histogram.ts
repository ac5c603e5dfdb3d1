/** Latency histogram in 0.1 ms buckets up to 60 s: constant memory however many samples. */
const BUCKET_MS = 0.1;
const BUCKETS = 600_000;

export class Histogram {
  readonly #counts = new Uint32Array(BUCKETS + 1);
  count = 0;
  max = 0;

  record(ms: number): void {
    const b = Math.min(BUCKETS, Math.max(0, Math.round(ms / BUCKET_MS)));
    this.#counts[b]!++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let b = 0; b <= BUCKETS; b++) {
      seen += this.#counts[b]!;
      if (seen >= rank) return b * BUCKET_MS;
    }
    return this.max;
  }

  reset(): void {
    this.#counts.fill(0);
    this.count = 0;
    this.max = 0;
  }
}

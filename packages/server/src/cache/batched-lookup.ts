/**
 * Lookups by id for the hot paths of connect and subscribe: the ids asked for in one event-loop turn are loaded
 * together (at most `maxBatch` per load), and ids found are remembered for `ttlMs` in a map of at most `maxEntries`
 * (oldest dropped first). Ids not found are never remembered, so a row created a moment ago is found at once.
 * `invalidate(id)` forgets an id now; a load in flight when that happens answers its callers but remembers nothing.
 * With `maxInFlight`, ids asked while that many loads run wait for the next load (started when one finishes).
 */
export interface BatchedLookupOptions {
  /** How long a found id is trusted; 0 turns remembering off (every lookup loads). */
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Ids per load at most. Default 1000. */
  readonly maxBatch?: number;
  /**
   * Loads in flight at most. Ids asked while that many run wait, and go together in the load that starts when one of
   * them finishes: under load the batches grow instead of the statements (a connect storm's turns are small, so a load
   * per turn was a statement per few ids). A load never takes ids asked after it started. Default: no limit.
   */
  readonly maxInFlight?: number;
}

/** Loads the given ids; an id missing from the map was not found. */
export type BatchLoader<V> = (ids: string[]) => Promise<Map<string, V>>;

interface Waiter<V> {
  resolve(value: V | undefined): void;
  reject(err: unknown): void;
}

interface Remembered<V> {
  readonly value: V;
  /** Time (ms) until which it is trusted. */
  readonly until: number;
}

export class BatchedLookup<V> {
  readonly #load: BatchLoader<V>;
  readonly #options: BatchedLookupOptions;
  /** Insertion order is age order. */
  readonly #found = new Map<string, Remembered<V>>();
  #waiting = new Map<string, Waiter<V>[]>();
  #scheduled = false;
  #inFlight = 0;
  /** Bumped by every invalidation: a load that started before one does not remember its answers. */
  #generation = 0;

  constructor(load: BatchLoader<V>, options: BatchedLookupOptions) {
    this.#load = load;
    this.#options = options;
  }

  /** hot path: the value of `id`, or undefined when it does not exist (remembered, or loaded with this turn's ids). */
  get(id: string): Promise<V | undefined> {
    const entry = this.#found.get(id);
    if (entry !== undefined) {
      if (entry.until > Date.now()) return Promise.resolve(entry.value);
      this.#found.delete(id);
    }
    return new Promise((resolve, reject) => {
      const list = this.#waiting.get(id);
      if (list) list.push({ resolve, reject });
      else this.#waiting.set(id, [{ resolve, reject }]);
      this.#schedule();
    });
  }

  /** Flushes at the end of this turn, unless one is due already or the loads in flight are at the limit. */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= (this.#options.maxInFlight ?? Infinity)) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  /** Forgets an id now, so its next lookup loads it. */
  invalidate(id: string): void {
    this.#found.delete(id);
    this.#generation++;
  }

  get size(): number {
    return this.#found.size;
  }

  #flush(): void {
    this.#scheduled = false;
    const waiting = this.#waiting;
    this.#waiting = new Map();
    const ids = [...waiting.keys()];
    const max = this.#options.maxBatch ?? 1000;
    for (let i = 0; i < ids.length; i += max) void this.#loadBatch(ids.slice(i, i + max), waiting);
  }

  async #loadBatch(ids: string[], waiting: Map<string, Waiter<V>[]>): Promise<void> {
    const generation = this.#generation;
    let found: Map<string, V>;
    this.#inFlight++;
    try {
      found = await this.#load(ids);
    } catch (err) {
      for (const id of ids) for (const w of waiting.get(id)!) w.reject(err);
      return;
    } finally {
      this.#inFlight--;
      if (this.#waiting.size > 0) this.#schedule();
    }
    if (generation === this.#generation && this.#options.ttlMs > 0) {
      const until = Date.now() + this.#options.ttlMs;
      for (const [id, value] of found) this.#remember(id, value, until);
    }
    for (const id of ids) for (const w of waiting.get(id)!) w.resolve(found.get(id));
  }

  #remember(id: string, value: V, until: number): void {
    this.#found.delete(id);
    this.#found.set(id, { value, until });
    while (this.#found.size > this.#options.maxEntries) this.#found.delete(this.#found.keys().next().value!);
  }
}

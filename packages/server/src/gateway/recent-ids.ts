/** A bounded set of the most recent ids (a ring buffer plus a Set): `add` is O(1) and memory stays fixed. */
export class RecentIds {
  readonly #ring: (string | undefined)[];
  readonly #set = new Set<string>();
  #next = 0;

  constructor(readonly capacity: number) {
    this.#ring = new Array(capacity);
  }

  /** Adds an id; false when it is already among the most recent `capacity` ids. */
  add(id: string): boolean {
    if (this.#set.has(id)) return false;
    const evicted = this.#ring[this.#next];
    if (evicted !== undefined) this.#set.delete(evicted);
    this.#ring[this.#next] = id;
    this.#next = (this.#next + 1) % this.capacity;
    this.#set.add(id);
    return true;
  }
}

/**
 * A set that is cheap while it holds one member: the member is kept in a field, and a `Set` is made only for two or
 * more (and dropped again at one). The hub keeps a set of sockets per user and per served channel; most of them hold
 * one socket, and an empty `Set` alone takes about 150 bytes of heap, several times per idle connection
 * (bench/RESULTS.md, idle memory). `undefined` cannot be a member.
 */
export interface ReadonlySmallSet<T> extends Iterable<T> {
  readonly size: number;
}

export class SmallSet<T> implements ReadonlySmallSet<T> {
  #one: T | undefined = undefined;
  #many: Set<T> | null = null;

  get size(): number {
    if (this.#many) return this.#many.size;
    return this.#one === undefined ? 0 : 1;
  }

  add(value: T): void {
    if (this.#many) {
      this.#many.add(value);
    } else if (this.#one === undefined || this.#one === value) {
      this.#one = value;
    } else {
      this.#many = new Set([this.#one, value]);
      this.#one = undefined;
    }
  }

  /** Removes `value`; false when it was not there. */
  delete(value: T): boolean {
    const many = this.#many;
    if (!many) {
      if (this.#one !== value || value === undefined) return false;
      this.#one = undefined;
      return true;
    }
    if (!many.delete(value)) return false;
    if (many.size === 1) {
      this.#one = many.values().next().value;
      this.#many = null;
    }
    return true;
  }

  /** hot path: iterates in insertion order (a fan-out loops over this). */
  [Symbol.iterator](): Iterator<T> {
    if (this.#many) return this.#many.values();
    return (this.#one === undefined ? [] : [this.#one]).values();
  }
}

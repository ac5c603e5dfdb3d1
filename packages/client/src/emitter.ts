/** A small typed event emitter: `on` returns the function that removes the listener. A throwing listener is reported, never breaks the others. */
export type Listener<T> = (value: T) => void;

export class Emitter<Events> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => void set.delete(listener as Listener<never>);
  }

  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(value);
      } catch (err) {
        // A listener's bug must not stop delivery to the others nor break the connection loop.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}

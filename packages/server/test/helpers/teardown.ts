/** Anything with node:test's `after`: a TestContext, or a scope made here. */
export interface Scope {
  after(fn: () => unknown): void;
}

/**
 * A scope whose `after` hooks run in reverse order of registration once `t` ends (node:test runs them in order), so
 * what was started last stops first: sockets, then nodes, then the Redis and database they use.
 */
export function reverseScope(t: Scope): Scope {
  const teardown: (() => unknown)[] = [];
  t.after(async () => {
    for (const fn of teardown.reverse()) await fn();
  });
  return { after: (fn) => void teardown.push(fn) };
}

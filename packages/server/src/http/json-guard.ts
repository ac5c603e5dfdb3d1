/**
 * What PostgreSQL's jsonb cannot store, found before it gets there: a NUL character (in a key or a string), and
 * nesting so deep that serialising it would exhaust the stack. Either is the client's mistake (400), not a 500.
 */

/** Deepest nesting a published event's `data` may have. */
export const MAX_DATA_DEPTH = 32;

/** A one-line description of why `value` cannot be stored, or null when it can. */
export function unstorableJson(value: unknown, maxDepth = MAX_DATA_DEPTH): string | null {
  return walk(value, 1, maxDepth);
}

function walk(value: unknown, depth: number, maxDepth: number): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? 'contains a \\u0000 character' : null;
  if (typeof value !== 'object' || value === null) return null;
  if (depth > maxDepth) return `is nested deeper than ${maxDepth} levels`;
  const entries = Array.isArray(value) ? value.map((v) => ['', v] as const) : Object.entries(value);
  for (const [key, child] of entries) {
    if (key.includes('\u0000')) return 'contains a \\u0000 character';
    const problem = walk(child, depth + 1, maxDepth);
    if (problem) return problem;
  }
  return null;
}

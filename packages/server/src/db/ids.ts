/** Row ids in the platform's format: Prisma's `cuid()` strings. */
import { randomInt } from 'node:crypto';

const TIME_CHARS = 8; // base-36 milliseconds: fits until the year 5188
const COUNTER_CHARS = 4;
const COUNTER_SPACE = 36 ** COUNTER_CHARS;
const RANDOM_BLOCK = 36 ** 6; // randomInt needs a range below 2^48

let counter = randomInt(COUNTER_SPACE);

/**
 * A new cuid-like id: 25 lowercase base-36 characters, `c` + 8 of time (ms) + 4 of a per-process counter + 12 of
 * `crypto.randomInt`. Ids sort by creation time (ms); within one millisecond of one process, by the counter
 * (except where it wraps, every 1.68 million ids). Not secret and not a token: 62 random bits only make collisions
 * between processes improbable.
 */
export function newId(): string {
  counter = (counter + 1) % COUNTER_SPACE;
  return (
    'c' +
    base36(Date.now(), TIME_CHARS) +
    base36(counter, COUNTER_CHARS) +
    base36(randomInt(RANDOM_BLOCK), 6) +
    base36(randomInt(RANDOM_BLOCK), 6)
  );
}

function base36(value: number, width: number): string {
  return value.toString(36).padStart(width, '0').slice(-width);
}

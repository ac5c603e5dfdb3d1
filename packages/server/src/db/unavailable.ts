/**
 * Telling "the database did not answer" apart from "the query was wrong": the first is answered with 503 / close 1011
 * (try again later, nothing is wrong with the request), the second is a bug.
 */

/** Messages node-postgres and pg-pool give their own timeouts and dropped connections (they carry no code). */
const DRIVER_MESSAGES = [
  'Query read timeout',
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
];
/** Socket errors on the way to the server. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * SQLSTATEs of a server that cannot serve now: 57014 statement timeout (query_canceled), 57P01-57P03 shutdown and
 * cannot-connect-now, 53300 too many connections, 25P03 idle-in-transaction timeout; class 08 connection exceptions.
 */
const UNAVAILABLE_STATES = new Set(['57014', '57P01', '57P02', '57P03', '53300', '25P03']);

/** True when `err` (or an error in its `cause` chain, as drizzle wraps driver errors) says the database is unreachable. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08'))) return true;
    if (DRIVER_MESSAGES.some((m) => e instanceof Error && e.message.startsWith(m))) return true;
  }
  return false;
}

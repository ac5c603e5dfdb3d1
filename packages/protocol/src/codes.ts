/**
 * Every error and close condition of the gateway, one row each. Server, SDK and docs read this table;
 * nothing else hard-codes a close code.
 *
 * Close code ranges (RFC 6455 codes are used as the RFC defines them):
 * - 1000-1015  RFC 6455: 1009 frame too large, 1011 internal error, 1012 server restart (reconnect).
 * - 4000-4499  application, reconnect allowed. 4001 means "get a fresh token, then reconnect"; 4002 (disconnected by
 *              the server) too: the token the socket used is refused from now on.
 * - 4500-4999  application, terminal: reconnecting with the same inputs cannot succeed.
 *
 * `close` is null for errors that are reported in an `error` frame while the connection stays open.
 * `reason` is at most 123 bytes so it fits a close frame. Codes are never reused once retired.
 */
export const Codes = {
  GW_ERR_AUTH_REQUIRED: { close: 4001, http: 401, reason: 'authentication required', reconnect: true },
  GW_ERR_AUTH_INVALID: { close: 4001, http: 401, reason: 'invalid token', reconnect: true },
  GW_ERR_AUTH_EXPIRED: { close: 4001, http: 401, reason: 'token expired', reconnect: true },
  GW_ERR_AUTH_UNKNOWN_USER: { close: 4001, http: 401, reason: 'unknown user', reconnect: true },
  GW_ERR_AUTH_TIMEOUT: { close: 4001, http: 401, reason: 'authentication timeout', reconnect: true },
  GW_ERR_AUTH_USER_MISMATCH: { close: 4001, http: 401, reason: 'token is for another user', reconnect: true },
  GW_ERR_AUTH_QUERY_TOKEN_DISABLED: { close: 4001, http: 401, reason: 'query-string tokens are disabled', reconnect: true },
  GW_ERR_AUTH_LIFETIME_TOO_LONG: { close: 4001, http: 401, reason: 'token lifetime is longer than allowed', reconnect: true },
  GW_ERR_AUTH_UNAVAILABLE: { close: 1011, http: 503, reason: 'authentication could not be checked; retry', reconnect: true },
  GW_ERR_TOO_MANY_CONNECTIONS: { close: 4008, http: 429, reason: 'too many connections for this user', reconnect: true },
  GW_ERR_SLOW_CONSUMER: { close: 4009, http: 503, reason: 'slow consumer: send buffer full', reconnect: true },
  GW_ERR_FRAME_FLOOD: { close: 4010, http: 429, reason: 'too many frames waiting to be processed', reconnect: true },
  GW_ERR_PAYLOAD_TOO_LARGE: { close: 1009, http: 413, reason: 'frame too large', reconnect: true },
  GW_ERR_INTERNAL: { close: 1011, http: 500, reason: 'internal error', reconnect: true },
  GW_ERR_SERVER_RESTART: { close: 1012, http: 503, reason: 'server restart', reconnect: true },
  GW_ERR_DISCONNECTED: { close: 4002, http: 401, reason: 'disconnected by the server', reconnect: true },
  GW_ERR_BAD_FRAME: { close: null, http: 400, reason: 'malformed frame', reconnect: false },
  GW_ERR_UNKNOWN_TYPE: { close: null, http: 400, reason: 'unknown frame type', reconnect: false },
  GW_ERR_INVALID_FIELD: { close: null, http: 400, reason: 'missing or invalid field', reconnect: false },
  GW_ERR_UNKNOWN_CHANNEL: { close: null, http: 400, reason: 'unknown channel', reconnect: false },
  GW_ERR_CHANNEL_FORBIDDEN: { close: null, http: 403, reason: 'access denied to channel', reconnect: false },
  GW_ERR_CHANNEL_NOT_FOUND: { close: null, http: 404, reason: 'channel target not found', reconnect: false },
  GW_ERR_TOO_MANY_CHANNELS: { close: null, http: 429, reason: 'too many channels on this connection', reconnect: false },
  GW_ERR_SUBSCRIBE_FAILED: { close: null, http: 500, reason: 'could not check access; try again', reconnect: false },
  GW_ERR_BINARY_FRAME: { close: null, http: 400, reason: 'binary frames are not supported', reconnect: false },
  GW_ERR_API_NOT_CONFIGURED: { close: null, http: 503, reason: 'not configured', reconnect: false },
  GW_ERR_API_UNAUTHORIZED: { close: null, http: 401, reason: 'unauthorized', reconnect: false },
  GW_ERR_BAD_REQUEST: { close: null, http: 400, reason: 'bad request', reconnect: false },
  GW_ERR_NOT_FOUND: { close: null, http: 404, reason: 'not found', reconnect: false },
  GW_ERR_NOT_READY: { close: null, http: 503, reason: 'not ready', reconnect: false },
  GW_ERR_PAYMENT_SIGNATURE: { close: null, http: 401, reason: 'bad or stale signature', reconnect: false },
  GW_ERR_PAYMENT_INVALID: { close: null, http: 422, reason: 'payment does not match', reconnect: false },
  GW_ERR_PAYMENT_CONFLICT: { close: null, http: 409, reason: 'payment conflicts with current state', reconnect: false },
  GW_ERR_DATABASE_UNAVAILABLE: { close: null, http: 503, reason: 'database unavailable; try again', reconnect: false },
  GW_ERR_SERVER_FULL: { close: null, http: 503, reason: 'server at its connection limit', reconnect: false },
  GW_ERR_ADDRESS_RATE_LIMITED: { close: null, http: 429, reason: 'too many connection attempts from this address', reconnect: false },
  GW_ERR_ADDRESS_SOCKET_LIMIT: { close: null, http: 429, reason: 'too many sockets from this address', reconnect: false },
  GW_ERR_ADDRESS_UNAUTHENTICATED_LIMIT: {
    close: null,
    http: 429,
    reason: 'too many unauthenticated sockets from this address',
    reconnect: false,
  },
} as const satisfies Record<string, CodeRow>;

export interface CodeRow {
  /** WebSocket close code, or null when the condition is reported in an `error` frame. */
  readonly close: number | null;
  /** HTTP status used when the same condition is answered over HTTP. */
  readonly http: number;
  /** Short human-readable reason, at most 123 bytes. */
  readonly reason: string;
  /** Whether a client may reconnect after this close (for 4001: with a fresh token). */
  readonly reconnect: boolean;
}

export type Code = keyof typeof Codes;

/** Close codes the gateway sends in addition to the table: the normal closure. */
export const CLOSE_NORMAL = 1000;

/**
 * Whether a client should reconnect after a close with `code`, including codes it has never seen:
 * 1000 (normal) no; other RFC codes yes except 1002/1003/1007/1008 (protocol violations); 4000-4499 yes; 4500-4999 no.
 */
export function shouldReconnect(code: number): boolean {
  if (code === CLOSE_NORMAL) return false;
  if (code >= 4500 && code <= 4999) return false;
  if (code >= 4000 && code <= 4499) return true;
  return ![1002, 1003, 1007, 1008].includes(code);
}

/** The table row of a code, or undefined for a string that is not one of ours. */
export function codeRow(code: string): CodeRow | undefined {
  return Object.hasOwn(Codes, code) ? Codes[code as Code] : undefined;
}

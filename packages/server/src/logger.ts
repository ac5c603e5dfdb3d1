/**
 * JSON logs (pino). Tokens and secrets never reach a log line: the fields that could carry them are redacted,
 * and request URLs are logged without their query string (the reference client sends `?token=`).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'token',
  '*.token',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-signature"]',
  'headers.authorization',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'fonana-realtime' },
      redact: { paths: REDACT, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err, req: requestSerializer },
    },
    destination,
  );
}

/** Requests are logged by method and path only: no query string (it may hold a token), no address. */
function requestSerializer(req: { method?: string; url?: string }): { method: string | undefined; path: string } {
  return { method: req.method, path: pathOnly(req.url) };
}

/** The path of a request URL without its query string. */
export function pathOnly(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * An error as a log field: the message and code of its root cause only. Driver errors carry their client objects
 * (node-postgres's has the server's cancel key) and drizzle wraps them in errors that carry the query parameters;
 * neither belongs in a log line.
 */
export function errorSummary(err: unknown): { message: string; code?: string } {
  let root = err;
  for (let depth = 0; depth < 5 && root instanceof Error && root.cause instanceof Error; depth++) root = root.cause;
  if (!(root instanceof Error)) return { message: String(root) };
  const code = (root as { code?: unknown }).code;
  return { message: root.message, ...(typeof code === 'string' ? { code } : {}) };
}

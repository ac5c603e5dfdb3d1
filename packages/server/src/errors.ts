import { Codes, type Code } from '@fonana-realtime/protocol';

/**
 * The server's one error class. `code` is a row of the protocol's codes table, which gives the close code,
 * the HTTP status and the short reason. `field` names the offending input field where there is one.
 */
export class GatewayError extends Error {
  readonly code: Code;
  readonly field: string | undefined;

  constructor(code: Code, message: string = Codes[code].reason, field?: string) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.field = field;
  }

  get httpStatus(): number {
    return Codes[this.code].http;
  }
}

/** True for a GatewayError, matched on `code` so copies of the module loaded twice still match. */
export function isGatewayError(err: unknown): err is GatewayError {
  const code = err instanceof Error ? (err as unknown as { code?: unknown }).code : undefined;
  return typeof code === 'string' && Object.hasOwn(Codes, code);
}

/**
 * Signed payment confirmations: `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 * Compared in constant time; older than the tolerance or from the future (beyond a small clock skew) is refused.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors.ts';

/** How old a signature may be. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;
/** How far in the future a timestamp may be (clock skew between the verifier and the gateway). */
const FUTURE_SKEW_SECONDS = 30;

/** The header value for `rawBody` at `timestamp` (the platform side of the contract; used by tests and tools). */
export function signPayload(secret: string, rawBody: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/** Throws GatewayError GW_ERR_PAYMENT_SIGNATURE (401) unless `header` signs `rawBody` with `secret`, recently. */
export function verifySignature(secret: string, header: string | undefined, rawBody: string, nowSeconds = Date.now() / 1000): void {
  const fields = new Map<string, string[]>();
  for (const part of (header ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    fields.set(key, [...(fields.get(key) ?? []), part.slice(eq + 1).trim()]);
  }
  const t = fields.get('t')?.[0];
  const timestamp = t && /^\d{1,12}$/.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(timestamp)) throw new GatewayError('GW_ERR_PAYMENT_SIGNATURE', 'missing or malformed X-Signature');
  if (nowSeconds - timestamp > SIGNATURE_TOLERANCE_SECONDS) throw new GatewayError('GW_ERR_PAYMENT_SIGNATURE', 'signature is too old');
  if (timestamp - nowSeconds > FUTURE_SKEW_SECONDS) throw new GatewayError('GW_ERR_PAYMENT_SIGNATURE', 'signature timestamp is in the future');
  const expected = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest();
  const matches = (fields.get('v1') ?? []).some((hex) => {
    if (!/^[0-9a-f]{64}$/i.test(hex)) return false;
    return timingSafeEqual(Buffer.from(hex, 'hex'), expected);
  });
  if (!matches) throw new GatewayError('GW_ERR_PAYMENT_SIGNATURE', 'signature does not match');
}

/** Reading a JWT's times without verifying it: the client only needs to know when to ask for a fresh one. */

/** `exp` and `iat` of a JWT in milliseconds, or nulls when the token is not a readable JWT. */
export function tokenTimes(token: string): { expiresAt: number | null; issuedAt: number | null } {
  const payload = token.split('.')[1];
  if (!payload) return { expiresAt: null, issuedAt: null };
  try {
    const claims = JSON.parse(decodeBase64Url(payload)) as { exp?: unknown; iat?: unknown };
    const ms = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v * 1000 : null);
    return { expiresAt: ms(claims.exp), issuedAt: ms(claims.iat) };
  } catch {
    return { expiresAt: null, issuedAt: null };
  }
}

/**
 * When to refresh a token that expires at `expiresAt`: a quarter of its lifetime before, at most a minute before,
 * and never in the past (at once when already due).
 */
export function refreshDelay(expiresAt: number, issuedAt: number | null, now: number): number {
  const lifetime = Math.max(0, expiresAt - (issuedAt ?? now));
  const margin = Math.min(60_000, lifetime / 4);
  return Math.max(0, expiresAt - margin - now);
}

function decodeBase64Url(text: string): string {
  const base64 = text.replaceAll('-', '+').replaceAll('_', '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  const binary = atob(base64);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

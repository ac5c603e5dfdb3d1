/**
 * NextAuth v4 session cookies, so a same-site app on NextAuth connects with its session alone.
 *
 * NextAuth v4 (next-auth/src/jwt/index.ts) seals the session JWT as a JWE, `alg: dir`, `enc: A256GCM`, with the key
 * HKDF-SHA256(NEXTAUTH_SECRET, salt "", info "NextAuth.js Generated Encryption Key", 32 bytes), and stores it in
 * `__Secure-next-auth.session-token` (https sites) or `next-auth.session-token`. A value longer than one cookie holds
 * is split into `<name>.0`, `<name>.1`, … (core/lib/cookie.ts), joined back here in index order.
 * The user id is the `sub` claim (NextAuth's own), else `userId`, else `id`; `exp` is required and checked.
 */
import { hkdfSync } from 'node:crypto';
import { errors, jwtDecrypt } from 'jose';
import { GatewayError } from '../errors.ts';
import type { VerifiedToken } from './tokens.ts';

/** Cookie names in order of preference. */
export const SESSION_COOKIE_NAMES = ['__Secure-next-auth.session-token', 'next-auth.session-token'] as const;
const ENCRYPTION_INFO = 'NextAuth.js Generated Encryption Key';
/** More chunks than a Cookie header of Node's default 16 KiB header limit can carry. */
const MAX_CHUNKS = 8;

/** The content encryption key NextAuth v4 derives from its secret for session tokens. */
export function sessionKey(secret: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, '', ENCRYPTION_INFO, 32));
}

/** The sealed session token of a Cookie header (whole or joined from its chunks), or null when there is none. */
export function sessionTokenFromCookies(header: string | undefined): string | null {
  if (!header) return null;
  const cookies = parseCookies(header);
  for (const name of SESSION_COOKIE_NAMES) {
    const whole = cookies.get(name);
    if (whole) return whole;
    const chunks: string[] = [];
    for (let i = 0; i < MAX_CHUNKS; i++) {
      const chunk = cookies.get(`${name}.${i}`);
      if (chunk === undefined) break;
      chunks.push(chunk);
    }
    if (chunks.length > 0) return chunks.join('');
  }
  return null;
}

/**
 * Opens a sealed session token. Throws GatewayError GW_ERR_AUTH_EXPIRED after `exp` and GW_ERR_AUTH_INVALID for
 * anything else (another secret, another algorithm, tampering, no `exp`, no user id); never says why in detail.
 */
export async function verifySessionToken(sealed: string, key: Uint8Array): Promise<VerifiedToken> {
  let payload;
  try {
    ({ payload } = await jwtDecrypt(sealed, key, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
      requiredClaims: ['exp'],
    }));
  } catch (err) {
    if (err instanceof errors.JWTExpired) throw new GatewayError('GW_ERR_AUTH_EXPIRED');
    throw new GatewayError('GW_ERR_AUTH_INVALID');
  }
  const userId = [payload.sub, payload.userId, payload.id].find((v) => typeof v === 'string' && v.length > 0);
  if (typeof userId !== 'string' || userId.length > 128) throw new GatewayError('GW_ERR_AUTH_INVALID');
  return {
    userId,
    expiresAt: (payload.exp as number) * 1000,
    issuedAt: typeof payload.iat === 'number' ? payload.iat * 1000 : null,
  };
}

/** name → value of a Cookie header; the first occurrence of a name wins, values are percent-decoded when valid. */
function parseCookies(header: string): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (!name || cookies.has(name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      value = decodeURIComponent(value);
    } catch {
      // not percent-encoded: keep it as it is
    }
    cookies.set(name, value);
  }
  return cookies;
}

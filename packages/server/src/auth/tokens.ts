/**
 * User tokens: HS256 JWTs signed with NEXTAUTH_SECRET, as the platform already mints them.
 * The algorithm is pinned, `exp` is required, `iss`/`aud` are enforced when configured.
 * The user id is the `userId` claim, else `sub`. Verification uses node:crypto; jose mints (CLI, tests).
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { GatewayError } from '../errors.ts';

export interface TokenOptions {
  readonly secret: string;
  readonly issuer?: string | null;
  readonly audience?: string | null;
  /** Longest accepted lifetime in seconds (`exp` − `iat`, or `exp` − now without `iat`); null or absent: no bound. */
  readonly maxTtlSeconds?: number | null;
}

export interface VerifiedToken {
  readonly userId: string;
  /** Expiry, milliseconds since the epoch. */
  readonly expiresAt: number;
  /** `iat`, milliseconds since the epoch; null when the token has none (such a token is refused once the user was disconnected). */
  readonly issuedAt: number | null;
}

const encoder = new TextEncoder();
const keyCache = new WeakMap<TokenOptions, Uint8Array>();

const secretKeyCache = new WeakMap<TokenOptions, KeyObject>();

function secretKeyOf(options: TokenOptions): KeyObject {
  let key = secretKeyCache.get(options);
  if (!key) {
    key = createSecretKey(Buffer.from(options.secret, 'utf8'));
    secretKeyCache.set(options, key);
  }
  return key;
}

/** The key in jose's form, for minting. */
function keyOf(options: TokenOptions): Uint8Array {
  let key = keyCache.get(options);
  if (!key) {
    key = encoder.encode(options.secret);
    keyCache.set(options, key);
  }
  return key;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const INVALID = () => new GatewayError('GW_ERR_AUTH_INVALID');

function decodeJson(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Verifies a token's signature and claims. Throws GatewayError GW_ERR_AUTH_EXPIRED for an expired token and
 * GW_ERR_AUTH_INVALID for anything else (bad signature, another algorithm, `alg: none`, a `crit` header, no `exp`,
 * a non-numeric `exp`/`nbf`/`iat`, `nbf` in the future, wrong `iss`/`aud`, no user id), GW_ERR_AUTH_LIFETIME_TOO_LONG for a lifetime over `maxTtlSeconds`; the error
 * message never contains the token.
 *
 * hot path (every connect): the checks jose's `jwtVerify` made with `algorithms: ['HS256'], requiredClaims: ['exp']`,
 * written out over node:crypto's HMAC: ~8 µs instead of ~97 µs per token (bench/RESULTS.md, connect storm).
 */
export async function verifyToken(token: string, options: TokenOptions): Promise<VerifiedToken> {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) throw INVALID();
  const header = decodeJson(parts[0]!);
  if (!header || header.alg !== 'HS256' || header.crit !== undefined || header.b64 !== undefined) throw INVALID();
  const expected = createHmac('sha256', secretKeyOf(options)).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2]!, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw INVALID();
  const payload = decodeJson(parts[1]!);
  if (!payload) throw INVALID();
  if (options.issuer && payload.iss !== options.issuer) throw INVALID();
  if (options.audience) {
    const aud = payload.aud;
    if (!(aud === options.audience || (Array.isArray(aud) && aud.includes(options.audience)))) throw INVALID();
  }
  const { exp, nbf, iat } = payload;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw INVALID();
  if (iat !== undefined && typeof iat !== 'number') throw INVALID();
  const now = Math.floor(Date.now() / 1000);
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now)) throw INVALID();
  if (exp <= now) throw new GatewayError('GW_ERR_AUTH_EXPIRED');
  if (options.maxTtlSeconds && exp - (typeof iat === 'number' ? iat : now) > options.maxTtlSeconds) {
    throw new GatewayError('GW_ERR_AUTH_LIFETIME_TOO_LONG');
  }
  const userId = typeof payload.userId === 'string' && payload.userId ? payload.userId : payload.sub;
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > 128) throw INVALID();
  return { userId, expiresAt: exp * 1000, issuedAt: typeof iat === 'number' ? iat * 1000 : null };
}

export interface MintOptions extends TokenOptions {
  /** Lifetime in seconds. Default 3600. */
  readonly expiresInSeconds?: number;
  readonly wallet?: string;
}

/** Mints a token with the platform's claims `{userId, sub, wallet?}` (the CLI `token` command and tests). */
export async function mintToken(userId: string, options: MintOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({ userId, ...(options.wallet ? { wallet: options.wallet } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresInSeconds ?? 3600));
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(keyOf(options));
}

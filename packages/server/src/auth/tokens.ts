/**
 * User tokens: HS256 JWTs signed with NEXTAUTH_SECRET, as the platform already mints them.
 * The algorithm is pinned, `exp` is required, `iss`/`aud` are enforced when configured.
 * The user id is the `userId` claim, else `sub`.
 */
import { errors, jwtVerify, SignJWT } from 'jose';
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

function keyOf(options: TokenOptions): Uint8Array {
  let key = keyCache.get(options);
  if (!key) {
    key = encoder.encode(options.secret);
    keyCache.set(options, key);
  }
  return key;
}

/**
 * Verifies a token's signature and claims. Throws GatewayError GW_ERR_AUTH_EXPIRED for an expired token and
 * GW_ERR_AUTH_INVALID for anything else (bad signature, another algorithm, `alg: none`, no `exp`, wrong
 * `iss`/`aud`, no user id), GW_ERR_AUTH_LIFETIME_TOO_LONG for a lifetime over `maxTtlSeconds`; the error message
 * never contains the token.
 */
export async function verifyToken(token: string, options: TokenOptions): Promise<VerifiedToken> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, keyOf(options), {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
      ...(options.issuer ? { issuer: options.issuer } : {}),
      ...(options.audience ? { audience: options.audience } : {}),
    }));
  } catch (err) {
    if (err instanceof errors.JWTExpired) throw new GatewayError('GW_ERR_AUTH_EXPIRED');
    throw new GatewayError('GW_ERR_AUTH_INVALID');
  }
  if (options.maxTtlSeconds) {
    const issuedAt = typeof payload.iat === 'number' ? payload.iat : Math.floor(Date.now() / 1000);
    if ((payload.exp as number) - issuedAt > options.maxTtlSeconds) throw new GatewayError('GW_ERR_AUTH_LIFETIME_TOO_LONG');
  }
  const userId = typeof payload.userId === 'string' && payload.userId ? payload.userId : payload.sub;
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > 128) {
    throw new GatewayError('GW_ERR_AUTH_INVALID');
  }
  return { userId, expiresAt: (payload.exp as number) * 1000, issuedAt: typeof payload.iat === 'number' ? payload.iat * 1000 : null };
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

/**
 * Token verification over node:crypto makes the same decisions as jose's jwtVerify with the options the gateway
 * used before (HS256 pinned, exp required, iss/aud when configured): each case is checked against both (one
 * documented difference: a padded signature is refused).
 */
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors, jwtVerify, SignJWT } from 'jose';
import { mintToken, verifyToken, type TokenOptions } from '../src/auth/tokens.ts';

const SECRET = 'token-test-secret-0123456789-abcdefgh';
const key = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
/** Signs any header and payload text with HMAC-SHA256, however malformed. */
const hand = (header: unknown, payload: unknown, secret = SECRET) => {
  const head = `${b64(header)}.${b64(payload)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
};
const HS = { alg: 'HS256', typ: 'JWT' };

async function joseOutcome(token: string, options: TokenOptions): Promise<string> {
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
      ...(options.issuer ? { issuer: options.issuer } : {}),
      ...(options.audience ? { audience: options.audience } : {}),
    });
    const userId = typeof payload.userId === 'string' && payload.userId ? payload.userId : payload.sub;
    return typeof userId === 'string' && userId.length > 0 && userId.length <= 128 ? `ok ${userId}` : 'GW_ERR_AUTH_INVALID';
  } catch (err) {
    return err instanceof errors.JWTExpired ? 'GW_ERR_AUTH_EXPIRED' : 'GW_ERR_AUTH_INVALID';
  }
}

async function ourOutcome(token: string, options: TokenOptions): Promise<string> {
  try {
    return `ok ${(await verifyToken(token, options)).userId}`;
  } catch (err) {
    return (err as { code: string }).code;
  }
}

test('node:crypto verification agrees with jose on valid, expired and every kind of bad token', async () => {
  const plain: TokenOptions = { secret: SECRET };
  const strict: TokenOptions = { secret: SECRET, issuer: 'fonana.me', audience: 'fonana-websocket' };
  const exp = now() + 600;
  const cases: [string, string, TokenOptions, string, string?][] = [
    ['minted', await mintToken('u1', { secret: SECRET }), plain, 'ok u1'],
    ['minted with iss/aud', await mintToken('u1', strict), strict, 'ok u1'],
    ['sub only', await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u2').setExpirationTime(exp).sign(key), plain, 'ok u2'],
    ['aud as array', hand(HS, { userId: 'u3', exp, iss: 'fonana.me', aud: ['x', 'fonana-websocket'] }), strict, 'ok u3'],
    ['expired', hand(HS, { userId: 'u1', exp: now() - 1 }), plain, 'GW_ERR_AUTH_EXPIRED'],
    ['exp now', hand(HS, { userId: 'u1', exp: now() }), plain, 'GW_ERR_AUTH_EXPIRED'],
    ['no exp', hand(HS, { userId: 'u1' }), plain, 'GW_ERR_AUTH_INVALID'],
    ['exp as text', hand(HS, { userId: 'u1', exp: String(exp) }), plain, 'GW_ERR_AUTH_INVALID'],
    ['iat as text', hand(HS, { userId: 'u1', exp, iat: 'yesterday' }), plain, 'GW_ERR_AUTH_INVALID'],
    ['nbf in the future', hand(HS, { userId: 'u1', exp, nbf: now() + 60 }), plain, 'GW_ERR_AUTH_INVALID'],
    ['nbf passed', hand(HS, { userId: 'u1', exp, nbf: now() - 60 }), plain, 'ok u1'],
    ['wrong secret', hand(HS, { userId: 'u1', exp }, 'another-secret-0123456789-abcdefghijkl'), plain, 'GW_ERR_AUTH_INVALID'],
    ['alg none', `${b64({ alg: 'none' })}.${b64({ userId: 'u1', exp })}.`, plain, 'GW_ERR_AUTH_INVALID'],
    ['HS512 with the right secret', await new SignJWT({ userId: 'u1' }).setProtectedHeader({ alg: 'HS512' }).setExpirationTime(exp).sign(key), plain, 'GW_ERR_AUTH_INVALID'],
    ['header says HS384', hand({ alg: 'HS384' }, { userId: 'u1', exp }), plain, 'GW_ERR_AUTH_INVALID'],
    ['crit header', hand({ alg: 'HS256', crit: ['x'], x: 1 }, { userId: 'u1', exp }), plain, 'GW_ERR_AUTH_INVALID'],
    ['b64 false', hand({ alg: 'HS256', b64: false, crit: ['b64'] }, { userId: 'u1', exp }), plain, 'GW_ERR_AUTH_INVALID'],
    ['payload not an object', hand(HS, [1, 2]), plain, 'GW_ERR_AUTH_INVALID'],
    ['payload not JSON', hand(HS, 'not json'), plain, 'GW_ERR_AUTH_INVALID'],
    ['two segments', `${b64(HS)}.${b64({ userId: 'u1', exp })}`, plain, 'GW_ERR_AUTH_INVALID'],
    // Stricter than jose, which strips base64 padding: no signer of JWTs pads (RFC 7515 §2).
    ['padding in the signature', `${hand(HS, { userId: 'u1', exp })}=`, plain, 'GW_ERR_AUTH_INVALID', 'ok u1'],
    ['signature cut short', hand(HS, { userId: 'u1', exp }).slice(0, -4), plain, 'GW_ERR_AUTH_INVALID'],
    ['wrong iss', hand(HS, { userId: 'u1', exp, iss: 'evil', aud: 'fonana-websocket' }), strict, 'GW_ERR_AUTH_INVALID'],
    ['no iss', hand(HS, { userId: 'u1', exp, aud: 'fonana-websocket' }), strict, 'GW_ERR_AUTH_INVALID'],
    ['wrong aud', hand(HS, { userId: 'u1', exp, iss: 'fonana.me', aud: 'other' }), strict, 'GW_ERR_AUTH_INVALID'],
    ['expired and wrong iss', hand(HS, { userId: 'u1', exp: now() - 5, iss: 'evil', aud: 'fonana-websocket' }), strict, 'GW_ERR_AUTH_INVALID'],
    ['no user id', hand(HS, { exp }), plain, 'GW_ERR_AUTH_INVALID'],
    ['user id too long', hand(HS, { userId: 'u'.repeat(129), exp }), plain, 'GW_ERR_AUTH_INVALID'],
    ['empty', '', plain, 'GW_ERR_AUTH_INVALID'],
  ];
  for (const [name, token, options, expected, joseExpected = expected] of cases) {
    assert.equal(await ourOutcome(token, options), expected, name);
    assert.equal(await joseOutcome(token, options), joseExpected, `${name} (jose)`);
  }
});

test('expiresAt is exp in milliseconds, and the error never carries the token', async () => {
  const exp = now() + 120;
  const token = hand(HS, { userId: 'u1', exp });
  assert.deepEqual(await verifyToken(token, { secret: SECRET }), { userId: 'u1', expiresAt: exp * 1000, issuedAt: null });
  const bad = `${token.slice(0, -2)}xx`;
  await assert.rejects(verifyToken(bad, { secret: SECRET }), (err: Error) => !err.message.includes(bad) && !err.message.includes(SECRET));
});

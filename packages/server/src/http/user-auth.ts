/** The user behind an HTTP request: `Authorization: Bearer <user token>`, verified like a WebSocket token. */
import type { FastifyRequest } from 'fastify';
import { verifyToken, type TokenOptions } from '../auth/tokens.ts';
import type { Queryable } from '../db/client.ts';
import { issuedTooEarly, userAuthState } from '../db/token-not-before.ts';
import { GatewayError } from '../errors.ts';

/** The user id, or null for an anonymous request. A token that is present but invalid is a 401, not anonymous. */
export async function optionalUser(req: FastifyRequest, tokens: TokenOptions, db: Queryable): Promise<string | null> {
  const header = req.headers.authorization;
  if (!header) return null;
  if (!header.startsWith('Bearer ')) throw new GatewayError('GW_ERR_AUTH_INVALID');
  const { userId, issuedAt } = await verifyToken(header.slice(7).trim(), tokens);
  const state = await userAuthState(db, userId);
  if (!state.exists) throw new GatewayError('GW_ERR_AUTH_UNKNOWN_USER');
  if (issuedTooEarly(issuedAt, state.notBefore)) throw new GatewayError('GW_ERR_DISCONNECTED');
  return userId;
}

/** Server-to-server authentication of the HTTP API: `Authorization: Bearer $REALTIME_API_KEY`. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.ts';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * A preHandler hook. Without a configured key every call answers 503 "not configured"; a missing or wrong key 401.
 * Keys are compared in constant time (as SHA-256 digests, so their lengths do not leak either).
 */
export function requireApiKey(apiKey: string | null) {
  const expected = apiKey === null ? null : digest(apiKey);
  return async function apiKeyOnRequest(req: FastifyRequest): Promise<void> {
    if (expected === null) throw new GatewayError('GW_ERR_API_NOT_CONFIGURED', 'REALTIME_API_KEY is not configured');
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!given || !timingSafeEqual(digest(given), expected)) throw new GatewayError('GW_ERR_API_UNAUTHORIZED');
  };
}

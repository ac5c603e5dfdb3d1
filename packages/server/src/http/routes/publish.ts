/**
 * `POST /v1/publish` (API key): `{channel | userId, type, data, idempotencyKey?}` → `{id}`.
 * The event goes through the outbox like every other event; the same idempotencyKey within 5 minutes
 * returns the same id and delivers nothing twice.
 */
import type { FastifyPluginAsync } from 'fastify';
import { channelKey, parseChannel, userChannel, isValidId } from '@fonana-realtime/protocol';
import type { RouteDeps } from '../route-deps.ts';
import { EventPublisher } from '../../db/publish.ts';
import { GatewayError } from '../../errors.ts';
import { requireApiKey } from '../api-key.ts';
import { unstorableJson } from '../json-guard.ts';

interface PublishBody {
  channel?: unknown;
  userId?: string;
  type: string;
  data?: unknown;
  idempotencyKey?: string;
}

const bodySchema = {
  type: 'object',
  required: ['type'],
  properties: {
    channel: { anyOf: [{ type: 'string' }, { type: 'object' }] },
    userId: { type: 'string', minLength: 1, maxLength: 128 },
    type: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_.:-]{0,63}$' },
    data: {},
    idempotencyKey: { type: 'string', minLength: 1, maxLength: 200 },
  },
  additionalProperties: false,
} as const;

export const publishRoutes: FastifyPluginAsync<RouteDeps> = async (app, { db, config, onCommitted, onCommitting }) => {
  const publisher = new EventPublisher(db.orm, { onCommitted, onCommitting });
  app.post<{ Body: PublishBody }>(
    '/publish',
    { onRequest: requireApiKey(config.apiKey), schema: { body: bodySchema } },
    async (req) => {
      const { channel, userId, type, data, idempotencyKey } = req.body;
      if ((channel === undefined) === (userId === undefined)) {
        throw new GatewayError('GW_ERR_BAD_REQUEST', 'give exactly one of "channel" and "userId"', 'channel');
      }
      let key: string;
      if (userId !== undefined) {
        if (!isValidId(userId)) throw new GatewayError('GW_ERR_BAD_REQUEST', 'userId: not a valid id', 'userId');
        key = channelKey(userChannel(userId));
      } else {
        const parsed = parseChannel(channel, false);
        if (!parsed) throw new GatewayError('GW_ERR_BAD_REQUEST', 'channel: unknown or malformed channel', 'channel');
        key = channelKey(parsed);
      }
      const problem = unstorableJson(data);
      if (problem) throw new GatewayError('GW_ERR_BAD_REQUEST', `data: ${problem}`, 'data');
      const result = await publisher.publish({ channel: key, type, data: data ?? null }, idempotencyKey);
      return { id: result.id, channel: key, duplicate: result.duplicate };
    },
  );
};

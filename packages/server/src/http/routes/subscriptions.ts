/** `POST /v1/subscriptions/cancel` (API key) `{userId, creatorId}`: access ends now, `subscription-updated` says so. */
import type { FastifyPluginAsync } from 'fastify';
import type { RouteDeps } from '../route-deps.ts';
import { cancelSubscription } from '../../db/subscriptions.ts';
import { GatewayError } from '../../errors.ts';
import { requireApiKey } from '../api-key.ts';

const id = { type: 'string', minLength: 1, maxLength: 128 } as const;

export const subscriptionRoutes: FastifyPluginAsync<RouteDeps> = async (app, { db, config, onCommitted }) => {
  app.post<{ Body: { userId: string; creatorId: string } }>(
    '/subscriptions/cancel',
    {
      onRequest: requireApiKey(config.apiKey),
      schema: {
        body: { type: 'object', required: ['userId', 'creatorId'], properties: { userId: id, creatorId: id }, additionalProperties: false },
      },
    },
    async (req) => {
      const result = await cancelSubscription(db.orm, req.body.userId, req.body.creatorId, { onCommitted });
      if (!result.found) throw new GatewayError('GW_ERR_NOT_FOUND', 'no subscription for this user and creator');
      return {
        status: 'cancelled',
        plan: result.plan,
        validUntil: result.validUntil,
        alreadyCancelled: result.alreadyCancelled,
        eventId: result.eventId,
      };
    },
  );
};

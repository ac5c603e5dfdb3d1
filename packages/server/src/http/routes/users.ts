/**
 * `POST /v1/users/:id/disconnect` (API key): closes every socket of the user on every node with 4002 and refuses the
 * tokens issued so far (a reconnect needs a token issued at or after `notBefore`). Answers
 * `{userId, notBefore}` once that is committed; each node closes its sockets as the event reaches it.
 */
import type { FastifyPluginAsync } from 'fastify';
import { isValidId } from '@fonana-realtime/protocol';
import type { RouteDeps } from '../route-deps.ts';
import { disconnectUser } from '../../db/token-not-before.ts';
import { GatewayError } from '../../errors.ts';
import { requireApiKey } from '../api-key.ts';

export const userRoutes: FastifyPluginAsync<RouteDeps> = async (app, { db, config, onCommitted }) => {
  app.post<{ Params: { id: string } }>(
    '/users/:id/disconnect',
    { onRequest: requireApiKey(config.apiKey) },
    async (req) => {
      const userId = req.params.id;
      if (!isValidId(userId)) throw new GatewayError('GW_ERR_BAD_REQUEST', 'id: not a valid user id', 'id');
      // No existence check: a user deleted on the platform must still lose their open sockets.
      const notBefore = await disconnectUser(db.orm, userId, { onCommitted });
      return { userId, notBefore };
    },
  );
};

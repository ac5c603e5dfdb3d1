/**
 * Reading posts with access applied (the user's token as Bearer, or anonymous):
 * `GET /v1/posts/:id` and `GET /v1/creators/:id/posts?limit=&offset=`. Entitled viewers get the content;
 * for others `content`, `mediaUrl` and `thumbnail` are absent and `lock` says what would unlock the post.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TokenOptions } from '../../auth/tokens.ts';
import type { Database } from '../../db/client.ts';
import { viewerFactsForCreator } from '../../db/entitlements.ts';
import { findPost, listCreatorPosts } from '../../db/posts.ts';
import { viewPost } from '../../domain/post-view.ts';
import { GatewayError } from '../../errors.ts';
import { optionalUser } from '../user-auth.ts';
import { isValidId } from '@fonana-realtime/protocol';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

/** Ids are checked before they reach a query: a control character (`%00`) is the client's mistake, not a 500. */
function requireValidId(id: string): void {
  if (!isValidId(id)) throw new GatewayError('GW_ERR_BAD_REQUEST', 'id: not a valid id', 'id');
}

export const postRoutes: FastifyPluginAsync<{ db: Database; tokens: TokenOptions }> = async (app, { db, tokens }) => {
  app.get<{ Params: { id: string } }>('/posts/:id', { schema: { params: idParams } }, async (req) => {
    requireValidId(req.params.id);
    const viewer = await optionalUser(req, tokens, db.orm);
    const post = await findPost(db.orm, req.params.id);
    if (!post) throw new GatewayError('GW_ERR_NOT_FOUND', 'no such post');
    const facts = await viewerFactsForCreator(db.orm, viewer, post.creatorId, [post.id]);
    return viewPost(post, facts(post.id), new Date());
  });

  app.get<{ Params: { id: string }; Querystring: { limit: number; offset: number } }>(
    '/creators/:id/posts',
    {
      schema: {
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
            offset: { type: 'integer', minimum: 0, maximum: 100_000, default: 0 },
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      requireValidId(req.params.id);
      const viewer = await optionalUser(req, tokens, db.orm);
      const { limit, offset } = req.query;
      const posts = await listCreatorPosts(db.orm, req.params.id, { limit: limit + 1, offset });
      const page = posts.slice(0, limit);
      const facts = await viewerFactsForCreator(db.orm, viewer, req.params.id, page.map((p) => p.id));
      const now = new Date();
      return {
        posts: page.map((p) => viewPost(p, facts(p.id), now)),
        limit,
        offset,
        nextOffset: posts.length > limit ? offset + limit : null,
      };
    },
  );
};

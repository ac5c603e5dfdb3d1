/**
 * Demo mode only (`fonana-realtime demo`, i.e. `npm start`): the demo page at `GET /`, and the few routes it needs
 * that a real platform provides itself:
 * - `GET /demo/users`: the seeded demo users, for the page's user picker;
 * - `POST /demo/token {userId}`: a token for a seeded demo user (ids starting with `demo-`), what a platform's login does;
 * - `POST /demo/buy {postId} | {creatorId, plan}` (user token): plays the platform's payment verifier: prices the
 *   item from the database, signs a confirmation with the webhook secret and posts it to this gateway's own
 *   `/v1/payments/confirmed`, exactly as a real verifier would after checking the chain;
 * - `POST /demo/cancel {creatorId}` (user token): cancels the user's subscription through `/v1/subscriptions/cancel`.
 * Never registered outside demo mode.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { and, eq, like } from 'drizzle-orm';
import { createServerClient, RealtimeApiError, type PaymentConfirmation } from '@fonana-realtime/client/server';
import { mintToken, type TokenOptions } from '../../auth/tokens.ts';
import type { Config } from '../../config/config.ts';
import type { Database } from '../../db/client.ts';
import { findPost } from '../../db/posts.ts';
import { creatorTierSettings, users } from '../../db/schema.ts';
import { tierPrice } from '../../domain/pricing.ts';
import { normalizeTier } from '../../domain/tiers.ts';
import { GatewayError } from '../../errors.ts';
import { optionalUser } from '../user-auth.ts';

export interface DemoOptions {
  /** Folder of the built demo page (index.html and assets/), or null when it could not be built. */
  readonly pageDir: string | null;
}

const DEMO_TOKEN_TTL_SECONDS = 3600;
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};
const ASSET_NAME = /^[A-Za-z0-9_.-]{1,200}$/;

export const demoRoutes: FastifyPluginAsync<{
  db: Database;
  config: Config;
  tokens: TokenOptions;
  demo: DemoOptions;
  /** This gateway's own base URL, known once it listens. */
  selfUrl: () => string;
}> = async (app, { db, config, tokens, demo, selfUrl }) => {
  const api = () =>
    createServerClient({ url: selfUrl(), apiKey: config.apiKey ?? undefined, webhookSecret: config.paymentWebhookSecret ?? undefined, retries: 1 });

  const sendPageFile = async (reply: FastifyReply, file: string) => {
    if (!demo.pageDir) throw new GatewayError('GW_ERR_NOT_FOUND', 'the demo page is not built (npm run build -w apps/demo)');
    const body = await readFile(join(demo.pageDir, file)).catch(() => null);
    if (!body) throw new GatewayError('GW_ERR_NOT_FOUND', 'no such file');
    return reply.type(CONTENT_TYPES[extname(file)] ?? 'application/octet-stream').send(body);
  };
  app.get('/', (_req, reply) => sendPageFile(reply, 'index.html'));
  app.get<{ Params: { name: string } }>('/assets/:name', (req, reply) => {
    if (!ASSET_NAME.test(req.params.name) || req.params.name.startsWith('.')) throw new GatewayError('GW_ERR_NOT_FOUND', 'no such file');
    return sendPageFile(reply.header('cache-control', 'public, max-age=31536000, immutable'), join('assets', req.params.name));
  });

  app.get('/demo/users', async () => {
    const rows = await db.orm
      .select({ id: users.id, name: users.fullName, isCreator: users.isCreator })
      .from(users)
      .where(like(users.id, 'demo-%'))
      .orderBy(users.id);
    return { users: rows };
  });

  app.post<{ Body: { userId: string } }>(
    '/demo/token',
    { schema: { body: { type: 'object', required: ['userId'], properties: { userId: { type: 'string', minLength: 1, maxLength: 128 } } } } },
    async (req) => {
      const { userId } = req.body;
      const [user] = userId.startsWith('demo-')
        ? await db.orm.select({ id: users.id }).from(users).where(and(eq(users.id, userId)))
        : [];
      if (!user) throw new GatewayError('GW_ERR_NOT_FOUND', 'tokens are minted here only for the seeded demo users', 'userId');
      const token = await mintToken(userId, { ...tokens, expiresInSeconds: DEMO_TOKEN_TTL_SECONDS });
      return { token, expiresIn: DEMO_TOKEN_TTL_SECONDS };
    },
  );

  const signedIn = async (req: Parameters<typeof optionalUser>[0]) => {
    const userId = await optionalUser(req, tokens, db.orm);
    if (!userId) throw new GatewayError('GW_ERR_AUTH_REQUIRED');
    return userId;
  };
  /** Answers with the gateway's own answer, refusals included (status and error body). */
  const relay = async (reply: FastifyReply, call: () => Promise<unknown>) => {
    try {
      return await call();
    } catch (err) {
      if (err instanceof RealtimeApiError && err.code !== 'NETWORK') {
        return reply.status(err.status || 500).send({ error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } });
      }
      throw err;
    }
  };

  app.post<{ Body: { postId?: string; creatorId?: string; plan?: string } }>(
    '/demo/buy',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            postId: { type: 'string', minLength: 1, maxLength: 128 },
            creatorId: { type: 'string', minLength: 1, maxLength: 128 },
            plan: { type: 'string', minLength: 1, maxLength: 32 },
          },
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const userId = await signedIn(req);
      const txSignature = `demo-tx-${randomUUID()}`;
      let confirmation: PaymentConfirmation;
      if (req.body.postId) {
        const post = await findPost(db.orm, req.body.postId);
        if (!post) throw new GatewayError('GW_ERR_NOT_FOUND', 'no such post', 'postId');
        if (post.price === null) throw new GatewayError('GW_ERR_BAD_REQUEST', 'this post is not for sale', 'postId');
        confirmation = { kind: 'post_purchase', txSignature, userId, postId: post.id, amount: post.price, currency: post.currency ?? 'SOL' };
      } else if (req.body.creatorId && req.body.plan) {
        const tier = normalizeTier(req.body.plan);
        if (tier === null || tier === 'free') throw new GatewayError('GW_ERR_BAD_REQUEST', 'plan must be basic, premium or vip', 'plan');
        const [settings] = await db.orm
          .select({ basicTier: creatorTierSettings.basicTier, premiumTier: creatorTierSettings.premiumTier, vipTier: creatorTierSettings.vipTier })
          .from(creatorTierSettings)
          .where(eq(creatorTierSettings.creatorId, req.body.creatorId));
        const offer = tierPrice(settings ?? null, tier);
        confirmation = { kind: 'subscription', txSignature, userId, creatorId: req.body.creatorId, plan: tier, amount: offer.price, currency: 'SOL' };
      } else {
        throw new GatewayError('GW_ERR_BAD_REQUEST', 'give postId, or creatorId and plan', 'postId');
      }
      return relay(reply, () => api().confirmPayment(confirmation));
    },
  );

  app.post<{ Body: { creatorId: string } }>(
    '/demo/cancel',
    { schema: { body: { type: 'object', required: ['creatorId'], properties: { creatorId: { type: 'string', minLength: 1, maxLength: 128 } } } } },
    async (req, reply) => {
      const userId = await signedIn(req);
      return relay(reply, () => api().cancelSubscription({ userId, creatorId: req.body.creatorId }));
    },
  );
};

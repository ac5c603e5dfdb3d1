/**
 * `POST /v1/payments/confirmed` (signed with PAYMENT_WEBHOOK_SECRET): a verified payment from the platform.
 * 200 with the result, the same result for a repeated txSignature (header `idempotent-replay: true`);
 * 401 bad/stale signature, 422 the payment does not match the database, 409 it conflicts with the current state.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { RouteDeps } from '../route-deps.ts';
import { confirmPayment, type PaymentConfirmation } from '../../db/payments.ts';
import { GatewayError } from '../../errors.ts';
import { verifySignature } from '../signature.ts';

const text = (max: number) => z.string().min(1).max(max);
const common = {
  txSignature: text(200),
  userId: text(128),
  amount: z.number().positive().finite(),
  currency: z.string().regex(/^[A-Za-z]{2,10}$/, 'must be a currency code like SOL'),
  fromWallet: text(128).optional(),
  toWallet: text(128).optional(),
};
const Confirmation = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('post_purchase'), postId: text(128), ...common }),
  z.strictObject({ kind: z.literal('subscription'), creatorId: text(128), plan: text(32), ...common }),
]);

/** The confirmation in a request body, or a 400 naming the first bad field. */
function parseConfirmation(body: unknown): PaymentConfirmation {
  const parsed = Confirmation.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.code === 'unrecognized_keys' ? issue.keys[0] : issue.path.join('.') || 'kind';
  throw new GatewayError('GW_ERR_BAD_REQUEST', `${field}: ${issue.message}`, field);
}

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: string;
  }
}

export const paymentRoutes: FastifyPluginAsync<RouteDeps> = async (app, { db, config, onCommitted }) => {
  // The signature covers the exact bytes: keep the raw body (only in this plugin's scope).
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    req.rawBody = body as string;
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new GatewayError('GW_ERR_BAD_REQUEST', 'body is not valid JSON'), undefined);
    }
  });
  app.post(
    '/payments/confirmed',
    {
      // Signature first: an unsigned request learns nothing about the body's validity.
      preValidation: async (req) => {
        if (!config.paymentWebhookSecret) {
          throw new GatewayError('GW_ERR_API_NOT_CONFIGURED', 'PAYMENT_WEBHOOK_SECRET is not configured');
        }
        const header = req.headers['x-signature'];
        verifySignature(config.paymentWebhookSecret, Array.isArray(header) ? header[0] : header, req.rawBody ?? '');
      },
    },
    async (req, reply) => {
      const { result, replayed } = await confirmPayment(db.orm, parseConfirmation(req.body), { onCommitted });
      if (replayed) reply.header('idempotent-replay', 'true');
      // The buyer's sockets before this answer: the committed events went to this node's hub in onCommitted, and
      // their frames are written in a setImmediate (gateway/frame-writer.ts) scheduled before this one, so they are
      // on the wire before the response is serialised and written (unless that flush is held for a publish's commit
      // in flight, holdFlushUntil). Costs the answer one pass of the check phase.
      else await new Promise(setImmediate);
      return result;
    },
  );
};

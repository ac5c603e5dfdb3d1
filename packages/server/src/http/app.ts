/**
 * The HTTP API as a fastify instance built from its dependencies; `listen` happens elsewhere (node.ts), so tests
 * use `app.inject()` without a port. Errors are answered as `{"error":{"code","message","field?"}}` with the
 * status of the code's row in the protocol's codes table.
 */
import { createServer } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { Codes, type Code } from '@fonana-realtime/protocol';
import type { Config } from '../config/config.ts';
import type { Database } from '../db/client.ts';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { isGatewayError } from '../errors.ts';
import { errorSummary, type Logger } from '../logger.ts';
import { healthRoutes, type Readiness } from './routes/health.ts';
import { paymentRoutes } from './routes/payments.ts';
import { postRoutes } from './routes/posts.ts';
import { publishRoutes } from './routes/publish.ts';
import { subscriptionRoutes } from './routes/subscriptions.ts';
import { demoRoutes, type DemoOptions } from './routes/demo.ts';
import { userRoutes } from './routes/users.ts';
import type { TokenOptions } from '../auth/tokens.ts';
import type { OnCommitted } from '../db/outbox.ts';

export interface AppDeps {
  readonly config: Config;
  readonly db: Database;
  readonly logger: Logger;
  readonly tokens: TokenOptions;
  readonly readiness: () => Promise<Readiness>;
  /**
   * Takes the events a request committed, to publish them at once (outbox/committed-publisher.ts); without it the
   * routes' events wake the outbox relays.
   */
  readonly onCommitted?: OnCommitted;
  /** Told of a commit of published events while it is in flight (see RouteDeps). */
  readonly onCommitting?: (commit: Promise<void>) => void;
  /** Demo mode only: the demo page and its routes (routes/demo.ts). */
  readonly demo?: DemoOptions & { selfUrl: () => string };
}

const BODY_LIMIT_BYTES = 256 * 1024;
/** Longest path parameter: ids may have 128 characters, percent-encoding makes them longer on the wire. */
const MAX_PARAM_LENGTH = 1024;
/** Time to receive a whole request (headers and body) once its headers started. */
const REQUEST_TIMEOUT_MS = 30_000;
/** How often Node checks the two timeouts (its default, 30 s, would let a header timeout of 10 s run to 40 s). */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Requests (upgrade requests too) whose headers do not arrive in time are closed: a half-sent request must not
    // hold a descriptor for long.
    serverFactory: (handler) => {
      const headersTimeout = deps.config.timings.headersTimeoutMs;
      return createServer(
        {
          headersTimeout,
          requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeout),
          connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, headersTimeout),
        },
        handler,
      );
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (isGatewayError(err)) {
      return reply.status(err.httpStatus).send(errorBody(err.code, err.message, err.field));
    }
    if (err.validation) {
      const issue = err.validation[0];
      const params = issue?.params as { missingProperty?: string; additionalProperty?: string } | undefined;
      const field =
        params?.missingProperty ?? params?.additionalProperty ?? issue?.instancePath?.replace(/^\//, '').replaceAll('/', '.');
      return reply.status(400).send(errorBody('GW_ERR_BAD_REQUEST', `${field ?? 'body'}: ${issue?.message ?? 'invalid'}`, field || undefined));
    }
    if (isDatabaseUnavailable(err)) {
      req.log.warn({ error: errorSummary(err) }, 'database unavailable');
      return reply.status(503).send(errorBody('GW_ERR_DATABASE_UNAVAILABLE', Codes.GW_ERR_DATABASE_UNAVAILABLE.reason));
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send(errorBody('GW_ERR_BAD_REQUEST', err.message));
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send(errorBody('GW_ERR_INTERNAL', Codes.GW_ERR_INTERNAL.reason));
  });
  app.setNotFoundHandler((_req, reply) => reply.status(404).send(errorBody('GW_ERR_NOT_FOUND', 'no such route')));

  await app.register(healthRoutes, { readiness: deps.readiness });
  const v1 = {
    prefix: '/v1',
    db: deps.db,
    config: deps.config,
    ...(deps.onCommitted ? { onCommitted: deps.onCommitted } : {}),
    ...(deps.onCommitting ? { onCommitting: deps.onCommitting } : {}),
  };
  await app.register(publishRoutes, v1);
  await app.register(paymentRoutes, v1);
  await app.register(subscriptionRoutes, v1);
  await app.register(userRoutes, v1);
  await app.register(postRoutes, { ...v1, tokens: deps.tokens });
  if (deps.demo) {
    await app.register(demoRoutes, { db: deps.db, config: deps.config, tokens: deps.tokens, demo: deps.demo, selfUrl: deps.demo.selfUrl });
  }
  return app;
}

export function errorBody(code: Code, message: string, field?: string) {
  return { error: { code, message, ...(field ? { field } : {}) } };
}

import type { FastifyPluginAsync } from 'fastify';

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Record<string, boolean>;
}

/** `GET /healthz`: the process is alive. `GET /readyz`: it should get traffic (503 while draining or degraded). */
export const healthRoutes: FastifyPluginAsync<{ readiness: () => Promise<Readiness> }> = async (app, { readiness }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const state = await readiness();
    return reply.status(state.ready ? 200 : 503).send({ status: state.ready ? 'ready' : 'not ready', checks: state.checks });
  });
};

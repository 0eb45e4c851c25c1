import Fastify, { type FastifyInstance } from 'fastify';
import type { HealthCheck } from './health.ts';
import type { Logger } from './log.ts';

export interface HttpAppOptions {
  /** GET /health: 200 `{status: "ok"}` when it returns nothing, else 503 with its reason. */
  health?: HealthCheck;
}

/**
 * A fastify instance with our conventions: one logfmt line per request with
 * its duration, one error handler that hides 5xx details from clients, and
 * GET /health.
 */
export function createHttpApp(log: Logger, options: HttpAppOptions = {}): FastifyInstance {
  const app = Fastify({ logger: false });
  app.addHook('onResponse', async (req, reply) => {
    log.info('http.request', {
      method: req.method,
      path: req.routeOptions.url ?? req.url.split('?')[0],
      status: reply.statusCode,
      'measure#http.duration': `${reply.elapsedTime.toFixed(1)}ms`,
    });
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, _req, reply) => {
    const status = err.statusCode && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) {
      log.error('http.error', err);
      return reply.code(status).send({ error: 'internal error' });
    }
    return reply.code(status).send({ error: err.message });
  });
  app.get('/health', async (_req, reply) => {
    const reason = await options.health?.();
    if (reason === undefined) return { status: 'ok' };
    return reply.code(503).header('cache-control', 'no-store').send({ status: 'unavailable', reason });
  });
  return app;
}

import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from './log.ts';

/**
 * A fastify instance with our conventions: one logfmt line per request with
 * its duration, and one error handler that hides 5xx details from clients.
 */
export function createHttpApp(log: Logger): FastifyInstance {
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
  app.get('/health', async () => ({ status: 'ok' }));
  return app;
}

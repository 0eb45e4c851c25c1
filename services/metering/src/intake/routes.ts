import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { IntakeReport } from '@vault/contracts';
import { intake, type IntakeDeps } from './intake.ts';
import { readBody, SUPPORTED_CONTENT_TYPES } from './read-body.ts';
import { headRefusal, shownAsReceived } from './request-head.ts';
import { resubmitRoute } from './resubmit.ts';

/** Bodies up to this size (4 MiB); a publisher with more sends several requests. */
export const EVENTS_BODY_LIMIT = 4 * 1024 * 1024;

const BODY_TOO_LARGE = `body is larger than 4 MiB (${EVENTS_BODY_LIMIT} bytes), the most one request may carry: send the events in several requests`;

/**
 * `POST /v1/events`: every CloudEvents HTTP content mode, a JSON array or NDJSON
 * (read-body.ts); 202 once every line is durable on the bus and its key claimed.
 * `POST /v1/rejected/:id/resubmit` (resubmit.ts): a kept rejection, back onto the bus.
 */
export function eventsRoutes(app: FastifyInstance, deps: IntakeDeps): void {
  app.register(async (scope) => {
    // Lines are kept exactly as received, so the body stays bytes here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: EVENTS_BODY_LIMIT }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err: Error & { code?: string }, req, reply) => {
      // fastify's own words ("Request body is too large") do not say how large is allowed.
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: BODY_TOO_LARGE, limit_bytes: EVENTS_BODY_LIMIT });
      // A Content-Type fastify cannot parse (`json`, a byte outside ASCII) never reaches the route's parser:
      // the route's own 415, naming it as received.
      if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' && req.routeOptions.url === '/v1/events') {
        const type = shownAsReceived(String(req.headers['content-type'] ?? ''));
        return reply.code(415).send({ error: `content-type ${type} is not one this route reads: send ${SUPPORTED_CONTENT_TYPES}` });
      }
      throw err;
    });
    // The head is judged before the body is read: what it alone makes unreadable is refused whole.
    const onRequest = async (req: FastifyRequest, reply: FastifyReply) => {
      const refusal = headRefusal(req.raw.headersDistinct ?? distinct(req.raw.headers));
      if (refusal) return reply.code(refusal.status).send({ error: refusal.error });
      // An empty Content-Type (or only spaces) says no more than none, which is read as JSON or NDJSON.
      if (req.raw.headers['content-type']?.trim() === '') delete req.raw.headers['content-type'];
      return undefined;
    };
    scope.post('/v1/events', { bodyLimit: EVENTS_BODY_LIMIT, onRequest }, async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const reading = readBody(req.headers, body);
      // Nothing of a body that cannot be read is published, and it is never a 2xx.
      if (!reading.ok) {
        const { status, error, limit_events, headers } = reading;
        return reply
          .code(status)
          .headers(headers ?? {})
          .send({ error, ...(limit_events === undefined ? {} : { limit_events }) });
      }
      const report = await intake(deps, reading.lines);
      return reply.code(202).send(IntakeReport.parse(report));
    });

    resubmitRoute(scope, deps);
  });
}

/** Header lines by name, for a request without `headersDistinct` (an injected one). */
function distinct(headers: Record<string, string | string[] | undefined>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v : [v]]])));
}

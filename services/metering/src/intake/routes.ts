import type { FastifyInstance } from 'fastify';
import { IntakeReport } from '@vault/contracts';
import { intake, type IntakeDeps } from './intake.ts';
import { readBody, SUPPORTED_CONTENT_TYPES } from './read-body.ts';
import { answerBusUnavailable, PUBLISH_DEADLINE_MS } from './publish-deadline.ts';
import { answerPublishedUnsettled } from './published-unsettled.ts';
import { judgeHead, shownAsReceived } from './request-head.ts';
import { RESUBMIT_URL, resubmitRoute } from './resubmit.ts';
import { refuseQuery } from '../no-query.ts';

/** Bodies up to this size (4 MiB); a publisher with more sends several requests. */
export const EVENTS_BODY_LIMIT = 4 * 1024 * 1024;

const BODY_TOO_LARGE = `body is larger than 4 MiB (${EVENTS_BODY_LIMIT} bytes), the most one request may carry: send the events in several requests`;

/**
 * `POST /v1/events`: every CloudEvents HTTP content mode, a JSON array or NDJSON
 * (read-body.ts); 202 once every line is durable on the bus and its key claimed.
 * `POST /v1/rejected/:id/resubmit` (resubmit.ts): a kept rejection, back onto the bus.
 */
export function eventsRoutes(app: FastifyInstance, given: IntakeDeps): void {
  // A bus that hangs is answered within this (publish-deadline.ts); a test may shorten it.
  const deps: IntakeDeps = { ...given, publishWithinMs: given.publishWithinMs ?? PUBLISH_DEADLINE_MS };
  app.register(async (scope) => {
    // Lines are kept exactly as received, so the body stays bytes here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: EVENTS_BODY_LIMIT }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err: Error & { code?: string }, req, reply) => {
      // fastify's own words ("Request body is too large") do not say how large is allowed.
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: BODY_TOO_LARGE, limit_bytes: EVENTS_BODY_LIMIT });
      // A Content-Type fastify cannot parse (`json`, a byte outside ASCII) never reaches the route's parser:
      // the route's own 415, naming it as received.
      if (
        err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' &&
        (req.routeOptions.url === '/v1/events' || req.routeOptions.url === RESUBMIT_URL)
      ) {
        const type = shownAsReceived(String(req.headers['content-type'] ?? ''));
        return reply.code(415).send({ error: `content-type ${type} is not one this route reads: send ${SUPPORTED_CONTENT_TYPES}` });
      }
      throw err;
    });
    scope.post('/v1/events', { bodyLimit: EVENTS_BODY_LIMIT, onRequest: [refuseQuery, judgeHead] }, async (req, reply) => {
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
      let report: IntakeReport;
      try {
        report = await intake(deps, reading.lines);
      } catch (err) {
        // Nothing is answered as accepted that the bus has not acknowledged: a 503, never a bare 500.
        const answered =
          answerBusUnavailable(reply, err, deps, 'sending the same body again') ??
          // Published, then counting it failed: answered here, where the app's error handler says a bare "try again" or 500.
          answerPublishedUnsettled(
            reply,
            err,
            deps,
            'sending the same body again is safe and answers the counts, every event of it already published answered as a duplicate (the same source and id), never applied twice',
          );
        if (answered) return answered;
        throw err;
      }
      return reply.code(202).send(IntakeReport.parse(report));
    });

    resubmitRoute(scope, deps);
  });
}

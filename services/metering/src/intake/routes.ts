import type { FastifyInstance } from 'fastify';
import { IntakeReport } from '@vault/contracts';
import { assess, intake, settle, type IntakeDeps } from './intake.ts';
import { readBody } from './read-body.ts';
import { getRejected, markResolved } from '../reports/store.ts';

/** Bodies up to this size (4 MiB); a publisher with more sends several requests. */
export const EVENTS_BODY_LIMIT = 4 * 1024 * 1024;

const BODY_TOO_LARGE = `body is larger than 4 MiB (${EVENTS_BODY_LIMIT} bytes), the most one request may carry: send the events in several requests`;

/**
 * `POST /v1/events`: every CloudEvents HTTP content mode, a JSON array or NDJSON
 * (read-body.ts); 202 once every line is durable on the bus and its key claimed.
 * `POST /v1/rejected/:id/resubmit`: a kept rejection, fixed (the body) or as it was
 * (no body, e.g. an event once too far in the future), back onto the bus.
 */
export function eventsRoutes(app: FastifyInstance, deps: IntakeDeps): void {
  app.register(async (scope) => {
    // Lines are kept exactly as received, so the body stays bytes here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: EVENTS_BODY_LIMIT }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err: Error & { code?: string }, _req, reply) => {
      // fastify's own words ("Request body is too large") do not say how large is allowed.
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: BODY_TOO_LARGE, limit_bytes: EVENTS_BODY_LIMIT });
      throw err;
    });
    scope.post('/v1/events', { bodyLimit: EVENTS_BODY_LIMIT }, async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const reading = readBody(req.headers, body);
      // Nothing of a body that cannot be read is published, and it is never a 2xx.
      if (!reading.ok) return reply.code(reading.status).send({ error: reading.error });
      const report = await intake(deps, reading.lines);
      return reply.code(202).send(IntakeReport.parse(report));
    });

    scope.post<{ Params: { id: string } }>('/v1/rejected/:id/resubmit', async (req, reply) => {
      const kept = await getRejected(deps.pool, req.params.id);
      if (!kept) return reply.code(404).send({ error: `no rejected event ${req.params.id}` });
      if (kept.resolved_at) return reply.code(200).send({ resolved_by: kept.resolved_by, already_resolved: true });
      const body = Buffer.isBuffer(req.body) && req.body.toString('utf8').trim() !== '' ? req.body : undefined;
      const bytes = body ?? (kept.raw_base64 === null ? Buffer.from(kept.raw) : Buffer.from(kept.raw_base64, 'base64'));
      const assessment = await assess(deps.pool, [{ index: 0, bytes }]);
      const refused = assessment.report.rejected[0];
      if (refused) return reply.code(422).send({ error: `still rejected: ${refused.reason}`, reasons: refused.reasons });
      await deps.bus.publish(deps.topic, assessment.messages);
      const report = await settle(deps.pool, assessment);
      // Another answer claimed its id with other content while this one was published.
      const reused = report.rejected[0];
      if (reused) return reply.code(422).send({ error: `still rejected: ${reused.reason}`, reasons: reused.reasons });
      const event = JSON.parse(bytes.toString('utf8')) as { source: string; id: string };
      const by = `${event.source}/${event.id}`;
      await markResolved(deps.pool, kept.id, by);
      return reply.code(202).send({ resolved_by: by, duplicate: report.duplicates === 1 });
    });
  });
}

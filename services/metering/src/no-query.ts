import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseQuery, queryError } from '@vault/runtime';

/** A route that reads no query parameter. */
const NoQuery = z.object({}).strict();

/**
 * The `onRequest` of the routes that read no query parameter (`POST /v1/events`, a re-submit,
 * `GET /v1/stats`): any parameter is a 400 naming it, before the body is read, nothing published.
 * `?dry_run=true` used to be ignored, and the events it was meant to try were published and billed.
 */
export async function refuseQuery(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const q = parseQuery(NoQuery, req.query);
  if (!q.success) return reply.code(400).send(queryError(q.error));
  return undefined;
}

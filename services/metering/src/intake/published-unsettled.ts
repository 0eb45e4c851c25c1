// After a durable publish the events are on the bus and will be applied: a claim that then cannot get a
// database session must not be answered like a failure before the publish ("try again", nothing taken).
import type { FastifyReply } from 'fastify';
import type { IntakeDeps } from './intake.ts';

/** Retry-After (seconds) of the 503 below: a pool's wait, as the app's own "database is busy". */
export const SESSION_RETRY_AFTER_S = 5;

/** pg-pool's error when no connection came within the pool's connectionTimeoutMillis. */
const POOL_TIMEOUT = /timeout exceeded when trying to connect/;

/**
 * Whether `err` is no database session to be had: the pool's wait ran out, or PostgreSQL refused a
 * new session at its connection limit (53300 too_many_connections, a role's or database's too).
 */
export function noSession(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === '53300' || (typeof e?.message === 'string' && POOL_TIMEOUT.test(e.message));
}

/** The publish was durable, then what counts it (the claims, a re-submit's resolve) found no session. */
export class PublishedUnsettled extends Error {
  constructor(
    /** Lines put on the bus: every one will be applied, or kept as a rejection. */
    readonly lines: number,
    options: { cause: unknown },
  ) {
    super('published, then no database session to count the events', options);
    this.name = 'PublishedUnsettled';
  }
}

/** Runs what follows a durable publish; no session for it becomes a PublishedUnsettled. */
export async function afterPublish<T>(lines: number, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw noSession(err) ? new PublishedUnsettled(lines, { cause: err }) : err;
  }
}

/**
 * A 503 for a PublishedUnsettled, answered by the route itself (the app's error handler would say a
 * bare "try again"): `published: true`, the events on the bus and to be applied, and `again`: why
 * sending again is safe (its copies answered as duplicates). Undefined for any other error.
 */
export function answerPublishedUnsettled(reply: FastifyReply, err: unknown, deps: IntakeDeps, again: string): FastifyReply | undefined {
  if (!(err instanceof PublishedUnsettled)) return undefined;
  const what = err.lines === 1 ? 'the event is' : `the ${err.lines} lines are`;
  const it = err.lines === 1 ? 'it' : 'them';
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  deps.log?.warn('intake.published_unsettled', {
    path: reply.request.routeOptions.url ?? '',
    lines: err.lines,
    ...(cause?.code === '53300' ? { reason: 'too_many_connections' } : { reason: 'pool_timeout' }),
    error: String(cause?.message ?? cause),
    'count#intake.published_unsettled': 1,
  });
  return reply
    .code(503)
    .header('retry-after', String(SESSION_RETRY_AFTER_S))
    .send({
      error: `published: ${what} on the bus and will be applied, but the database had no session to count ${it} for this answer: ${again}`,
      published: true,
      lines_published: err.lines,
    });
}

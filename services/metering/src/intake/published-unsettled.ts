// After a durable publish the events are on the bus and will be applied: whatever then fails while they
// are counted (the claims, a re-submit's resolve) must not be answered like a failure before the publish
// ("try again", nothing taken) nor a bare 500. The publish is a fact; only the counting failed.
import type { FastifyReply } from 'fastify';
import { poolTimeout, sessionEnded, tooManyConnections } from '@vault/runtime';
import type { IntakeDeps } from './intake.ts';

/** Retry-After (seconds) of the 503 below: a pool's wait, as the app's own "database is busy". */
export const SESSION_RETRY_AFTER_S = 5;

/** Why the counting failed, as logged: the first three are the database not answering now, `other` anything else. */
export type UnsettledReason = 'too_many_connections' | 'pool_timeout' | 'session_ended' | 'other';

/** A connection the server refused or dropped before a session existed: a restart or failover under way. */
const CONNECTION_LOST = new Set(['ECONNREFUSED', 'ECONNRESET']);

/**
 * Why `err` stopped the counting: PostgreSQL refused a session at its connection limit (53300), the
 * pool's wait ran out or a new session did not come up in time, the server ended the session (a
 * restart, failover, pg_terminate_backend) or refused the connection; `other` for anything else.
 */
export function unsettledReason(err: unknown): UnsettledReason {
  if (tooManyConnections(err)) return 'too_many_connections';
  if (poolTimeout(err)) return 'pool_timeout';
  const code = (err as { code?: unknown } | null)?.code;
  if (sessionEnded(err) || (typeof code === 'string' && CONNECTION_LOST.has(code))) return 'session_ended';
  return 'other';
}

const causeText = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause));

/** The publish was durable, then what counts it (the claims, a re-submit's resolve) failed. */
export class PublishedUnsettled extends Error {
  readonly reason: UnsettledReason;
  constructor(
    /** Lines put on the bus: every one will be applied, or kept as a rejection. */
    readonly lines: number,
    options: { cause: unknown },
  ) {
    // The cause in the message too: `vault publish` shows only this line.
    super(`published ${lines} line(s) to the bus, to be applied; then counting them failed: ${causeText(options.cause)}`, options);
    this.name = 'PublishedUnsettled';
    this.reason = unsettledReason(options.cause);
  }
}

/**
 * Runs what follows a durable publish; any error of it becomes a PublishedUnsettled. An answer the run
 * returns (a 409 contested, a 422 refused) is its own: only a throw is converted.
 */
export async function afterPublish<T>(lines: number, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw err instanceof PublishedUnsettled ? err : new PublishedUnsettled(lines, { cause: err });
  }
}

const WHY: Readonly<Record<UnsettledReason, string>> = {
  too_many_connections: 'the database had no session to spare',
  pool_timeout: 'the database had no session to spare',
  session_ended: 'the database session ended',
  other: 'an internal error stopped it',
};

/**
 * A 503 for a PublishedUnsettled, answered by the route itself (the app's error handler would say a
 * bare "try again", or a 500): `published: true`, the events on the bus and to be applied, and `again`:
 * why sending again is safe (its copies answered as duplicates). Undefined for any other error. Logged
 * at warn with the cause when the database did not answer now, at error when it is anything else.
 */
export function answerPublishedUnsettled(reply: FastifyReply, err: unknown, deps: IntakeDeps, again: string): FastifyReply | undefined {
  if (!(err instanceof PublishedUnsettled)) return undefined;
  const what = err.lines === 1 ? 'the event is' : `the ${err.lines} lines are`;
  const it = err.lines === 1 ? 'it' : 'them';
  const fields = {
    path: reply.request.routeOptions.url ?? '',
    lines: err.lines,
    reason: err.reason,
    'count#intake.published_unsettled': 1,
  };
  if (err.reason === 'other') deps.log?.error('intake.published_unsettled', err.cause, fields);
  else deps.log?.warn('intake.published_unsettled', { ...fields, error: causeText(err.cause) });
  return reply
    .code(503)
    .header('retry-after', String(SESSION_RETRY_AFTER_S))
    .send({
      error: `published: ${what} on the bus and will be applied, but counting ${it} for this answer failed (${WHY[err.reason]}): ${again}`,
      published: true,
      lines_published: err.lines,
    });
}

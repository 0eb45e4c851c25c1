import type pg from 'pg';
import { openPool, withSessionSettings } from './database.ts';

/**
 * A session idle inside a transaction is ended after this at the least: a backstop that ends a
 * transaction a handler left open (its locks with it), not a latency limit. A low statement limit
 * would also end one between two of its statements: across a slow moment of the process, or the
 * card finish's gateway call under the card's lock (one try of at most 5 s, MAKE_DEFAULT_TIMEOUT_MS).
 * 120 s is a round margin above those, not a measured bound (runtime.md).
 */
export const MIN_IDLE_IN_TRANSACTION_MS = 120_000;

/**
 * The run-time parameters of the sessions that answer HTTP requests, for a statement limit of
 * `statementTimeoutMs` (0: none). statement_timeout counts a statement's lock waits too, so a
 * request waiting on a lock held by finalize or archive fails at the limit: no lock_timeout.
 */
export function requestSessionSettings(statementTimeoutMs: number): Record<string, string> {
  if (statementTimeoutMs <= 0) return {};
  return {
    statement_timeout: String(statementTimeoutMs),
    idle_in_transaction_session_timeout: String(Math.max(statementTimeoutMs, MIN_IDLE_IN_TRANSACTION_MS)),
  };
}

/**
 * The pool HTTP handlers query through: `url`'s sessions (an app's own settings kept) with the
 * request limits. Background work (the consumer, finalize, archive, exports) keeps the app's
 * main pool, unlimited: a batch cancelled at a limit would only be retried for ever.
 */
export function openRequestPool(
  url: string,
  opts: { statementTimeoutMs: number; max: number; log?: (event: string, fields?: Record<string, string | number>) => void },
): pg.Pool {
  return openPool(withSessionSettings(url, requestSessionSettings(opts.statementTimeoutMs)), { max: opts.max, log: opts.log });
}

/**
 * SQLSTATEs of a statement or transaction the server stopped at a limit of the request sessions:
 * query_canceled (statement_timeout), lock_not_available (a lock_timeout or NOWAIT), and
 * idle_in_transaction_session_timeout (the session ended mid-transaction: nothing of it was committed).
 */
const DATABASE_LIMIT: Readonly<Record<string, string>> = {
  '57014': 'statement_timeout',
  '55P03': 'lock_timeout',
  '25P03': 'idle_in_transaction_timeout',
};

/** Which limit stopped `err`'s statement, or undefined when it is no such error. */
export function databaseLimitOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && Object.hasOwn(DATABASE_LIMIT, code) ? DATABASE_LIMIT[code] : undefined;
}

/**
 * Whether `err` is PostgreSQL refusing a new session at its connection limit (too_many_connections:
 * max_connections, or a role's or database's CONNECTION LIMIT): busy for now, like a pool that waited in vain.
 */
export function tooManyConnections(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '53300';
}

/**
 * pg-pool's errors when no connection came within the pool's connectionTimeoutMillis: every pooled
 * session busy for the whole wait, or a new session that did not come up in time (a server slow to
 * accept, a restart or failover under way), which pg-pool ends and names this way.
 */
const POOL_TIMEOUT = /timeout exceeded when trying to connect|^Connection terminated due to connection timeout$/;

/** Whether `err` is pg-pool's wait for a connection running out (every pooled session busy, or a new one too slow to come up). */
export function poolTimeout(err: unknown): boolean {
  return err instanceof Error && POOL_TIMEOUT.test(err.message);
}

/**
 * The server ending a session: admin_shutdown (a restart, pg_terminate_backend), crash_shutdown,
 * cannot_connect_now (starting or stopping), idle_session_timeout.
 */
const SESSION_ENDED_CODES = new Set(['57P01', '57P02', '57P03', '57P05']);
/**
 * What node-postgres says of a session the server closed: the statement that was running
 * ("Connection terminated unexpectedly"), or the next one on that client. The second is how a
 * request meets idle_in_transaction_session_timeout (25P03): the server ends the session while
 * the client is idle, so the 25P03 goes to the client's 'error' event and the next query gets
 * only this message, no SQLSTATE.
 */
const SESSION_ENDED = /^(Connection terminated unexpectedly|Client has encountered a connection error and is not queryable)$/;

/** Whether the server closed `err`'s session during the request (its transaction, if any, rolled back). */
export function sessionEnded(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return SESSION_ENDED_CODES.has(code);
  return err instanceof Error && SESSION_ENDED.test(err.message);
}

/**
 * Any of the above: the database cannot answer this request now, and the caller may come back
 * shortly (503 with Retry-After, http.ts). What a web scope's own error handler passes on.
 */
export function databaseBusy(err: unknown): boolean {
  return databaseLimitOf(err) !== undefined || tooManyConnections(err) || poolTimeout(err) || sessionEnded(err);
}

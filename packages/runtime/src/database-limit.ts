/**
 * SQLSTATEs of a statement the server stopped at a limit (DATABASE_STATEMENT_TIMEOUT_MS):
 * query_canceled (statement_timeout) and lock_not_available (a lock_timeout or NOWAIT).
 */
const DATABASE_LIMIT: Readonly<Record<string, string>> = { '57014': 'statement_timeout', '55P03': 'lock_timeout' };

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

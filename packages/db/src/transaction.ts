import type pg from 'pg';

/** SQLSTATEs after which the same transaction, run again from its start, can succeed. */
const RETRYABLE: Readonly<Record<string, string>> = {
  '40P01': 'deadlock_detected',
  '40001': 'serialization_failure',
};

/** The part of a logger the helper uses (packages/runtime's Logger fits). */
export interface TransactionLog {
  warn(event: string, fields?: Record<string, string | number | boolean | null | undefined>): void;
}

export interface TransactionOptions {
  /** Default: the server's (read committed). */
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
  /**
   * Runs in all when the server ends the transaction with a deadlock (40P01)
   * or a serialization failure (40001); default 5. `fn` must then be safe to
   * run again: it should only read and write through `client`.
   */
  attempts?: number;
  /** Told of each retry (`db.transaction_retry`, `count#db.transaction_retries`). */
  log?: TransactionLog;
  /** Names the transaction in that log line. */
  name?: string;
}

/** The SQLSTATE of a pg error, if it is one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True for a deadlock or serialization failure: nothing was committed, and running again may succeed. */
export const isRetryable = (err: unknown): boolean => sqlState(err) !== undefined && sqlState(err)! in RETRYABLE;

/** PostgreSQL's refusal to run a prepared statement whose result's shape changed under it (a migration). */
const isStalePlan = (err: unknown): boolean =>
  sqlState(err) === '0A000' && /cached plan must not change result type/.test((err as Error).message ?? '');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * begin … commit around `fn` on one pooled client; rollback on any exception.
 * A deadlock or serialization failure is the server choosing a victim, not a
 * fault: the whole transaction runs again, a bounded number of times, after a
 * short random pause (so the two sides do not meet again in step).
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 5);
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(pool, fn, options.isolation);
    } catch (err) {
      if (!isRetryable(err) || attempt >= attempts) throw err;
      const code = sqlState(err)!;
      options.log?.warn('db.transaction_retry', {
        transaction: options.name ?? 'unnamed',
        code,
        reason: RETRYABLE[code],
        attempt,
        'count#db.transaction_retries': 1,
      });
      await sleep(Math.random() * 10 * 2 ** attempt);
    }
  }
}

/**
 * One try. A connection the server ends while the client is checked out
 * (restart, admin kill) fails the next query instead of raising an uncaught
 * 'error' event that would crash the process; such a client is not returned
 * to the pool.
 */
async function once<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, isolation?: TransactionOptions['isolation']): Promise<T> {
  const client = await pool.connect();
  const ignore = () => {};
  client.on('error', ignore);
  let broken = false;
  try {
    await client.query(isolation ? `begin isolation level ${isolation}` : 'begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => {
      broken = true;
    });
    // A statement prepared on this connection before a migration changed what it returns fails
    // every time on it: the connection is let go, and the next one prepares it again.
    if (isStalePlan(err)) broken = true;
    throw err;
  } finally {
    client.off('error', ignore);
    client.release(broken);
  }
}

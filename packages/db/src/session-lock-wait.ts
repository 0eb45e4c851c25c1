import type pg from 'pg';

/**
 * How long withSessionLock waits for another session's hold unless its caller says: bounded, for a
 * session that never lets go (a hung process, a transaction left open) made it wait for ever,
 * silently. A caller that rightly waits for a long run to end (vault finalize, vault archive) waits
 * without a bound (waitMs Infinity); the app's loops wait LOOP_LOCK_WAIT_MS and try again next tick.
 */
export const SESSION_LOCK_WAIT_MS = 30 * 60_000;

/** The session lock was not granted within the wait: another session held it all along. */
export class SessionLockTimeoutError extends Error {
  readonly key: number;
  readonly holder: string;
  readonly waitMs: number;
  constructor(key: number, holder: string, waitMs: number) {
    super(
      `gave up after ${waitMs / 1000} s waiting for session lock ${key}, held by ${holder}: ` +
        'if that session is stuck, ending it (pg_terminate_backend) frees the lock',
    );
    this.name = 'SessionLockTimeoutError';
    this.key = key;
    this.holder = holder;
    this.waitMs = waitMs;
  }
}

/**
 * Takes the session advisory lock `key` on `client`, waiting at most `waitMs`. lock_timeout bounds
 * the wait and keeps PostgreSQL's queue (first come, first served), which polling would not; it is
 * set for this transaction only, and a session lock taken in a transaction outlives its commit.
 */
export async function waitForLock(client: pg.PoolClient, key: number, waitMs: number, holderNow: () => Promise<string>): Promise<void> {
  await client.query('begin');
  try {
    // lock_timeout is whole milliseconds, and 0 means no limit (Infinity: no bound, whatever the role's setting).
    const timeout = Number.isFinite(waitMs) ? `${Math.max(1, Math.ceil(waitMs))}ms` : '0';
    await client.query(`select set_config('lock_timeout', $1, true)`, [timeout]);
    await client.query('select pg_advisory_lock($1)', [key]);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    // 55P03 lock_not_available: lock_timeout ran out.
    // The holder now, which may not be the one first waited for.
    if ((err as { code?: string }).code === '55P03') throw new SessionLockTimeoutError(key, await holderNow(), waitMs);
    throw err;
  }
}

import type pg from 'pg';

/**
 * `work` while this process holds the session advisory lock `key` (on a
 * client of its own, so `work` may run transactions on other clients that
 * start after the lock is held). A client that fails to lock or unlock is
 * closed, not pooled: its session, and so the lock, ends with it.
 */
export async function withSessionLock<T>(pool: pg.Pool, key: number, work: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [key]);
  } catch (err) {
    client.release(err as Error);
    throw err;
  }
  try {
    return await work();
  } finally {
    const failed = await client.query('select pg_advisory_unlock($1)', [key]).then(
      () => undefined,
      (err: Error) => err,
    );
    client.release(failed);
  }
}

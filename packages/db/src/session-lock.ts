import type pg from 'pg';

/**
 * `work` while this process holds the session advisory lock `key` (on a
 * client of its own, so `work` may run transactions on other clients that
 * start after the lock is held). A client that fails to lock or unlock is
 * closed, not pooled: its session, and so the lock, ends with it.
 */
export async function withSessionLock<T>(pool: pg.Pool, key: number, work: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // The pool stops listening once the client is checked out: a server restart or a terminated
  // session while `work` runs would otherwise be an unhandled 'error' event that ends the process.
  // The lock ends with its session; the work goes on (each pass is safe beside another), and the
  // client is closed, not pooled.
  let lost: Error | undefined;
  const onError = (err: Error) => {
    lost ??= err;
  };
  client.on('error', onError);
  const release = (err: Error | undefined) => {
    client.off('error', onError);
    client.release(err);
  };
  try {
    await client.query('select pg_advisory_lock($1)', [key]);
  } catch (err) {
    release(err as Error);
    throw err;
  }
  try {
    return await work();
  } finally {
    const failed =
      lost ??
      (await client.query('select pg_advisory_unlock($1)', [key]).then(
        () => undefined,
        (err: Error) => err,
      ));
    release(failed);
  }
}

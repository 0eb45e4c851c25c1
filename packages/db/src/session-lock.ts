import type pg from 'pg';

/**
 * `work` while this process holds the session advisory lock `key` (on a
 * client of its own, so `work` may run transactions on other clients that
 * start after the lock is held). A client that fails to lock or unlock is
 * closed, not pooled: its session, and so the lock, ends with it.
 */
export async function withSessionLock<T>(
  pool: pg.Pool,
  key: number,
  work: () => Promise<T>,
  opts: { heartbeatMs?: number } = {},
): Promise<T> {
  const client = await pool.connect();
  // The lock ends with its session (a server restart, a terminated or idle-killed session). The
  // work must not go on without it: another process is already taking it, and two senders would
  // send each email twice, two archive runs delete each other's files. So the process ends at once,
  // as a kill would end it (crash-only: what was committed stands, the rest is redone), saying why
  // in one line rather than dying of an unhandled 'error' event.
  let lost: Error | undefined;
  let working = false;
  const onError = (err: Error) => {
    lost ??= err;
    if (!working) return;
    process.stdout.write(
      `at=error event=session_lock.lost lock=${key} error=${JSON.stringify(err.message)} action="the process ends: the work must not go on without its lock"\n`,
    );
    process.exit(1);
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
  // The lock's session is idle for the whole pass: a server's idle_session_timeout (or a pooler's
  // idle kill) would end it, and with it the process. A query now and then keeps it in use.
  const heartbeat = setInterval(() => void client.query('select 1').catch(() => {}), opts.heartbeatMs ?? 10_000);
  heartbeat.unref();
  try {
    working = true;
    return await work();
  } finally {
    working = false;
    clearInterval(heartbeat);
    const failed =
      lost ??
      (await client.query('select pg_advisory_unlock($1)', [key]).then(
        () => undefined,
        (err: Error) => err,
      ));
    release(failed);
  }
}

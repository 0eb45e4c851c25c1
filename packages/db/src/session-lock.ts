import type pg from 'pg';
import { SESSION_LOCK_WAIT_MS, waitForLock } from './session-lock-wait.ts';

export { LOOP_LOCK_WAIT_MS, LockBusy } from './session-lock-busy.ts';
export { SESSION_LOCK_WAIT_MS, SessionLockTimeoutError } from './session-lock-wait.ts';

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
  opts: {
    heartbeatMs?: number;
    /**
     * Told once, before waiting, when another session holds the lock: `holder` names it (its
     * pid and application name, as PostgreSQL knows them). An operator's command that waits in
     * silence for an app's run to end looks hung.
     */
    onWait?: (holder: string) => void;
    /**
     * How long to wait for another session's hold (default SESSION_LOCK_WAIT_MS; Infinity: no bound);
     * then a SessionLockTimeoutError naming the lock and its holder. A stuck holder made callers wait for ever.
     */
    waitMs?: number;
  } = {},
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
    const tried = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [key]);
    if (!tried.rows[0]!.locked) {
      opts.onWait?.(await lockHolder(client, key));
      await waitForLock(client, key, opts.waitMs ?? SESSION_LOCK_WAIT_MS, () => lockHolder(client, key));
    }
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

/**
 * Who holds the session advisory lock `key` now: "pid N (application)", or "another session" once it
 * is gone. An advisory lock is the database's: the same key held in another database of the server
 * (another environment, a test's) is not this one.
 */
async function lockHolder(client: pg.PoolClient, key: number): Promise<string> {
  const { rows } = await client.query<{ pid: number; application_name: string | null }>(
    `select a.pid, nullif(a.application_name, '') as application_name
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.objsubid = 1
        and l.database = (select oid from pg_database where datname = current_database())
        and l.classid = ($1::bigint >> 32)::oid and l.objid = ($1::bigint & 4294967295)::oid
      limit 1`,
    [key],
  );
  const holder = rows[0];
  return holder ? `pid ${holder.pid}${holder.application_name ? ` (${holder.application_name})` : ''}` : 'another session';
}

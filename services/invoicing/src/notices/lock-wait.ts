// The notices publisher's wait for PUBLISH_LOCK while another invoicing process holds it (one
// stuck on a silent broker, say). At stop the tick was cut as if the broker were silent: the log
// blamed the broker, and cutting the bus could not end a PostgreSQL wait, so a pooled session
// stayed blocked in pg_advisory_lock and the app's db.close() waited for it. The wait is known
// here (its holder, and the session waiting), so the stop names it and cancels that session.
import type pg from 'pg';

export class PublishLockWait {
  private client: pg.PoolClient | undefined;
  private holder: string | undefined;

  /** `pool`, the session its connect hands out remembered: the one withSessionLock waits for the lock on. */
  on(pool: pg.Pool): pg.Pool {
    const wrapped: pg.Pool = Object.create(pool);
    wrapped.connect = (async () => {
      const client = await pool.connect();
      this.client = client;
      return client;
    }) as pg.Pool['connect'];
    return wrapped;
  }

  /** withSessionLock's onWait: another session holds the lock, named `holder`; this one waits. */
  readonly onWait = (holder: string): void => {
    this.holder = holder;
  };

  /** The lock is had, or the attempt is over: nothing waits. */
  readonly over = (): void => {
    this.holder = undefined;
    this.client = undefined;
  };

  /** Who holds the lock this tick waits for; undefined when it is not waiting for it. */
  waitingFor(): string | undefined {
    return this.holder;
  }

  /**
   * Cancels the waiting session's pg_advisory_lock (pg_cancel_backend, from another session of
   * `pool`), only while it still waits for `key`: the tick fails at once, its session dropped.
   */
  async cancel(pool: pg.Pool, key: number): Promise<boolean> {
    // pg's Client keeps its backend's pid (BackendKeyData); not in its types.
    const pid = (this.client as unknown as { processID?: number } | undefined)?.processID;
    if (this.holder === undefined || typeof pid !== 'number') return false;
    const { rows } = await pool.query<{ cancelled: boolean }>(
      `select pg_cancel_backend(l.pid) as cancelled from pg_locks l
        where l.pid = $1 and l.locktype = 'advisory' and not l.granted and l.objsubid = 1
          and l.classid = ($2::bigint >> 32)::oid and l.objid = ($2::bigint & 4294967295)::oid`,
      [pid, key],
    );
    return rows[0]?.cancelled === true;
  }
}

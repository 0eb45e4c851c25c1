// The catch-up's high-water mark (`invoicing.gateway_event_mark`), and the lock
// that lets one process at a time move it.
import type pg from 'pg';

/** Every event created before this (gateway seconds) was handled; undefined before the first catch-up. */
export async function readEventMark(db: pg.Pool | pg.PoolClient): Promise<number | undefined> {
  const { rows } = await db.query<{ created_before: string }>('select created_before from invoicing.gateway_event_mark');
  return rows[0] ? Number(rows[0].created_before) : undefined;
}

/** Sets the mark to exactly `createdBefore`: lower too, when an event before it turned out not handled yet. */
export async function saveEventMark(db: pg.Pool | pg.PoolClient, createdBefore: number): Promise<void> {
  await db.query(
    `insert into invoicing.gateway_event_mark (created_before) values ($1)
     on conflict (only_row) do update set created_before = excluded.created_before, updated_at = now()`,
    [createdBefore],
  );
}

/**
 * Runs `work` while this session holds the catch-up's lock, or returns
 * undefined at once when another process holds it (its run covers ours). Two
 * runs at once could each save a mark the other's events do not bear out. The
 * lock is the session's: a process killed mid-way lets go of it with its connection.
 */
export async function whileCatchingUp<T>(pool: pg.Pool, work: () => Promise<T>): Promise<T | undefined> {
  const client = await pool.connect();
  // A connection the server ends while held fails the next query; unheard, its 'error' would end the process.
  const ignore = () => {};
  client.on('error', ignore);
  let broken = false;
  const lost = (err: unknown) => {
    broken = true;
    throw err;
  };
  try {
    const { rows } = await client
      .query<{ locked: boolean }>("select pg_try_advisory_lock(hashtext('invoicing.gateway_event_catch_up')) as locked")
      .catch(lost);
    if (!rows[0]?.locked) return undefined;
    try {
      return await work();
    } finally {
      await client.query("select pg_advisory_unlock(hashtext('invoicing.gateway_event_catch_up'))").catch(() => {
        broken = true;
      });
    }
  } finally {
    client.off('error', ignore);
    // A broken session is closed, not pooled: it may still hold the lock.
    client.release(broken);
  }
}

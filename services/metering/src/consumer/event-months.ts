import type pg from 'pg';

const HOUR_MS = 3_600_000;
/** Per pool (each is one database): the hour its months were last ensured. */
const ensured = new WeakMap<pg.Pool, number>();

/**
 * Events are stored in the partition of the UTC month they arrive in
 * (migration 014). Before a batch, the current month's and the next one's
 * partitions must exist, by the database's clock: asked once an hour per pool,
 * so a month turning over always finds its partition made ahead. In a
 * transaction of its own: a partition made inside a batch that then rolls
 * back would be lost while this process believes it made.
 */
export async function ensureEventMonths(pool: pg.Pool): Promise<void> {
  const hour = Math.floor(Date.now() / HOUR_MS);
  if (ensured.get(pool) === hour) return;
  await pool.query(
    `select metering.ensure_events_month(m::date)
       from (values (date_trunc('month', now() at time zone 'UTC')),
                    (date_trunc('month', now() at time zone 'UTC') + interval '1 month')) v(m)`,
  );
  ensured.set(pool, hour);
}

/**
 * Seals the months that ended over an hour ago (migration 014): reads their
 * subjects once, so batches read a subject only from its first sealed month.
 * Off the batch path (a month's subjects take a while to read); until it runs,
 * batches only read more months than they need. Returns how many it sealed.
 */
export async function sealEventMonths(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ sealed: number }>('select metering.seal_events_months() as sealed');
  return rows[0]!.sealed;
}

export const SEAL_EVERY_MS = HOUR_MS;

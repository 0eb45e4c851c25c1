import type pg from 'pg';

type Db = pg.Pool | pg.PoolClient;

/**
 * Counts a run of the month's finalize as started (migration 019), before it
 * reads anything: an export that sees any invoice of this run sees this too.
 * Returns the run's number, for completeRun.
 */
export async function startRun(db: Db, period: string): Promise<number> {
  const { rows } = await db.query<{ started: number }>(
    `insert into invoicing.finalize_runs as r (period, started, started_at) values ($1, 1, now())
     on conflict (period) do update set started = r.started + 1, started_at = now()
     returning started`,
    [period],
  );
  return rows[0]!.started;
}

/** Counts run `run` of the month as completed: every chunk it wrote has committed. */
export async function completeRun(db: Db, period: string, run: number): Promise<void> {
  await db.query(`update invoicing.finalize_runs set completed = $2, completed_at = now() where period = $1 and started = $2`, [
    period,
    run,
  ]);
}

/**
 * When the month's latest finalize started, if it has not completed: it is
 * running, or was stopped, and the month's invoices are not all made. Runs are
 * one at a time (finalize's lock), so only the latest can be unfinished.
 */
export async function unfinishedRun(db: Db, period: string): Promise<Date | undefined> {
  const { rows } = await db.query<{ started_at: Date }>(
    'select started_at from invoicing.finalize_runs where period = $1 and completed < started',
    [period],
  );
  return rows[0]?.started_at;
}

import type pg from 'pg';

type Db = pg.Pool | pg.PoolClient;

/**
 * Counts run `run` of the month as started, once (migration 019): called in the
 * transaction of each of its chunks that writes invoices, so an export that
 * sees any invoice of the run sees this too. A run that writes nothing counts
 * nothing: the schedule revisits every due month, and its exports stay open.
 */
export async function noteRunWrites(client: pg.PoolClient, period: string, run: string): Promise<void> {
  await client.query(
    `insert into invoicing.finalize_runs as r (period, run, started, started_at) values ($1, $2, 1, now())
     on conflict (period) do update set run = excluded.run, started = r.started + 1, started_at = now()
      where r.run <> excluded.run`,
    [period, run],
  );
}

/**
 * Once every chunk of a run has committed: the month is complete as the run saw
 * it, whether the run wrote or found a killed run's work left to do done, and
 * it has been visited (migration 024), even by a run that had nothing to make.
 * Runs are one at a time (finalize's lock), so nothing is writing meanwhile.
 */
export async function completeRuns(db: Db, period: string): Promise<void> {
  await db.query(
    `with completed as (
       update invoicing.finalize_runs set completed = started, completed_at = now() where period = $1 and completed < started
     )
     insert into invoicing.finalize_visits (period, at) values ($1, now()) on conflict (period) do nothing`,
    [period],
  );
}

/**
 * No finalize run of the month has completed and it has no invoice: a run may
 * still have invoices to make (a month due since less than a schedule tick, or
 * while the app was down). Whether one would is the caller's to judge.
 */
export async function neverFinalized(db: Db, period: string): Promise<boolean> {
  const { rows } = await db.query<{ never: boolean }>(
    `select not exists (select from invoicing.finalize_visits where period = $1)
        and not exists (select from invoicing.invoices where period = $1) as never`,
    [period],
  );
  return rows[0]!.never;
}

/**
 * When the month's latest finalize run started writing, if it has not
 * completed: it is writing, or was stopped, and the month's invoices are not
 * all made.
 */
export async function unfinishedRun(db: Db, period: string): Promise<Date | undefined> {
  const { rows } = await db.query<{ started_at: Date }>(
    'select started_at from invoicing.finalize_runs where period = $1 and completed < started',
    [period],
  );
  return rows[0]?.started_at;
}

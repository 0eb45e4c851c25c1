// Which due months the schedule may skip (docs/contracts/invoicing.md, "Finalize
// schedule"): a month whose last completed run held no account and since whose
// snapshot nothing was learned that finalize would read. Finalizing it again
// would make nothing, and its late-usage candidates read every earlier invoice.
// Both times are the database's clock: one that reads earlier than a note (it
// stepped back) makes every due month run, as a row learned since may carry a
// learned_at before the note's snapshot less the margin.
import type pg from 'pg';
import { LATE_MARGIN_INTERVAL, reachesFrom } from './sql.ts';

type Db = pg.Pool | pg.PoolClient;

/** Notes a completed run of `period`: its snapshot and the accounts it held (migration 046). */
export async function noteComplete(db: Db, period: string, snapshotAt: Date, held: number): Promise<void> {
  await db.query(
    `insert into invoicing.finalize_complete (period, snapshot_at, held) values ($1, $2, $3)
     on conflict (period) do update set snapshot_at = excluded.snapshot_at, held = excluded.held`,
    [period, snapshotAt, held],
  );
}

/**
 * Of `periods`, those complete as their last completed run saw them: it held no
 * account, no run of the month is unfinished, no run of an earlier month (whose
 * invoices its late usage is found from) wrote since its snapshot, and since
 * that snapshot less the late margin (a transaction may commit what it did not
 * see) no chargeback was reinstated and metering
 * learned no usage, ownership or vanished span starting before the month's
 * end — what late usage is found from (late-usage.ts), and new usage of the
 * month itself. Rows learned are grouped by the month they start in, so one
 * scan answers every month. Any doubt (no note, a row learned) finalizes.
 */
const COMPLETE = `
  with m as materialized (
    select c.period, c.snapshot_at - $2::interval as since,
           (c.period || '-01T00:00:00Z')::timestamptz + interval '1 month' as ends
      from invoicing.finalize_complete c
     where c.period = any($1::text[]) and c.held = 0
       -- runs are one at a time, each snapshot taken under the lock: no margin for their writes
       and not exists (select from invoicing.finalize_runs r
                        where (r.period = c.period and r.completed < r.started)
                           or (r.period < c.period and r.started_at > c.snapshot_at))
       -- the clock stepped back since a due month's note: its snapshot says nothing of what was learned after
       and not exists (select from invoicing.finalize_complete a where a.period = any($1::text[]) and a.snapshot_at > now())
       and not exists (select from invoicing.invoice_disputes d
                         join invoicing.gateway_events e on e.id = d.reinstated_event
                        where e.received_at > c.snapshot_at - $2::interval)
  ),
  floor as (select min(since) as t from m),
  learned as (
    select date_trunc('month', coalesce(lower(x.during), '-infinity') at time zone 'UTC') as month, max(x.learned_at) as last
      from floor, (
        select u.during, u.learned_at from metering.billable_usage u, floor f
         where u.learned_at > f.t and ${reachesFrom('u', `(select h.starts - interval '1 month' from metering.billable_horizon h)`)}
        union all
        select o.during, o.learned_at from metering.billable_ownership o, floor f where o.learned_at > f.t
        union all
        select tstzrange(v.at, v.at, '[]'), v.learned_at from metering.billable_vanished v, floor f where v.learned_at > f.t
      ) x
     where floor.t is not null
     group by 1
  )
  select m.period from m
   where not exists (select from learned l where l.month < (m.ends at time zone 'UTC') and l.last > m.since)`;

/** A note of a run whose snapshot the database's clock reads as still to come. */
export interface ClockBehind {
  period: string;
  snapshotAt: Date;
  now: Date;
}

export interface CompleteMonths {
  months: Set<string>;
  /** Set when the clock stepped back behind a note: then no month is complete. */
  clockBehind?: ClockBehind;
}

const AHEAD = `select period, snapshot_at, now() as now from invoicing.finalize_complete
  where period = any($1::text[]) and snapshot_at > now() order by snapshot_at desc limit 1`;

export async function completeMonths(db: Db, periods: readonly string[]): Promise<CompleteMonths> {
  if (periods.length === 0) return { months: new Set() };
  const ahead = await db.query<{ period: string; snapshot_at: Date; now: Date }>(AHEAD, [periods]);
  const note = ahead.rows[0];
  if (note) return { months: new Set(), clockBehind: { period: note.period, snapshotAt: note.snapshot_at, now: note.now } };
  // COMPLETE checks again in its own statement: a clock stepping back between the two skips nothing either.
  const { rows } = await db.query<{ period: string }>(COMPLETE, [periods, LATE_MARGIN_INTERVAL]);
  return { months: new Set(rows.map((r) => r.period)) };
}

/**
 * Whether a credit lot has expired by `at` with something left and no `expired` entry yet: only a
 * finalize run writes it off, and credits.csv of its month waits for that (credits-final.ts), so a
 * tick that would skip every month runs one all the same.
 */
export async function expiriesPending(db: Db, at: Date): Promise<boolean> {
  const { rows } = await db.query<{ pending: boolean }>(
    'select exists (select from invoicing.credit_lots where expires_at <= $1 and remaining > 0) as pending',
    [at],
  );
  return rows[0]!.pending;
}

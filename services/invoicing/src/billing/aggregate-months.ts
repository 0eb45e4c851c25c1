// The usage aggregates' month tables (migration 018; docs/contracts/invoicing.md,
// "Usage aggregates", "Final months"): the fold makes the months it is about to
// write, and `vault archive` drops those before metering's usage horizon, which
// billing never reads again. Crash-only as metering's month tables: a table
// left detaching is finished, one left detached is dropped, by the next run.
import type pg from 'pg';

/**
 * The months the fold writes for apps `$1` from `$2` (a month's first instant;
 * null: from their first usage): every UTC month from there to the next one.
 * Closed usage ends by now (an event is at most minutes in the future), so no
 * row the fold writes lacks its table; a month of none of the apps' usage is
 * made empty, as it would be soon for others.
 */
export const ENSURE_FOLDED_MONTHS = `
  select invoicing.ensure_usage_month(m.month at time zone 'UTC')
    from (select coalesce($2::timestamptz,
                          (select min(lower(u.during)) from metering.billable_usage u where u.app_id = any($1::text[]))) as lo) b
    cross join lateral generate_series(date_trunc('month', b.lo at time zone 'UTC'),
                                       date_trunc('month', now() at time zone 'UTC') + interval '1 month', interval '1 month') m(month)`;

/**
 * The current UTC month's tables and the next two, made ahead, each in a
 * transaction of its own (ensure_usage_month's exclusive lock is brief), so
 * the fold rarely makes a month inside its transaction.
 */
export const ENSURE_MONTHS_AHEAD = `select invoicing.ensure_usage_month((date_trunc('month', now() at time zone 'UTC') + $1::int * interval '1 month') at time zone 'UTC')`;

/**
 * The months the first `$1` queued changes will need and that are not made
 * yet: from the earliest month they change (clamped to the usage horizon, as
 * TAKE is) to this one. A change of unknown start (before metering's 017) is
 * left to ENSURE_FOLDED_MONTHS.
 */
export const QUEUED_MONTHS = `
  with next as (select since from metering.usage_changes order by id limit $1)
  select m.month at time zone 'UTC' as month
    from (select greatest(date_trunc('month', min(since), 'UTC'), (select h.starts from metering.billable_horizon h)) as lo from next) b
    cross join lateral generate_series(date_trunc('month', b.lo at time zone 'UTC'), date_trunc('month', now() at time zone 'UTC'),
                                       interval '1 month') m(month)
   where not exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                      where n.nspname = 'invoicing' and c.relname = 'usage_days_' || to_char(m.month, 'YYYY_MM'))`;

/**
 * Makes, each in a transaction of its own, the months ahead and those the
 * next `limit` queued changes need. A month whose lock is not granted at once
 * (a long reader holds the table, 55P03) is left: the fold makes it inside its
 * transaction, or the next tick here.
 */
export async function ensureFoldMonths(pool: pg.Pool, limit: number): Promise<void> {
  const { rows } = await pool.query<{ month: Date }>(QUEUED_MONTHS, [limit]);
  const made = async (query: string, params: unknown[]) => {
    try {
      await pool.query(query, params);
    } catch (err) {
      if ((err as { code?: string }).code !== '55P03') throw err;
    }
  };
  for (const ahead of [0, 1, 2]) await made(ENSURE_MONTHS_AHEAD, [ahead]);
  for (const { month } of rows) await made('select invoicing.ensure_usage_month($1)', [month]);
}

const PARTITION = /^(usage_days|usage_months)_(\d{4})_(\d{2})$/;

/**
 * Drops the aggregates' month tables before `horizon` (YYYY-MM), and any a
 * killed run left detaching or detached; returns the months (YYYY-MM).
 * Each is detached concurrently (readers of other months go on), then dropped.
 */
export async function dropFinalAggregateMonths(
  pool: pg.Pool,
  horizon: string,
  say: (line: string) => void | Promise<void>,
): Promise<string[]> {
  const { rows } = await pool.query<{ table: string; state: 'attached' | 'detaching' | 'detached' }>(
    `select c.relname as table,
            case when i.inhrelid is null then 'detached' when i.inhdetachpending then 'detaching' else 'attached' end as state
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'invoicing'
       left join pg_inherits i on i.inhrelid = c.oid
      where c.relkind = 'r' and c.relname ~ '^usage_(days|months)_[0-9]{4}_[0-9]{2}$'
      order by c.relname`,
  );
  const months = new Set<string>();
  // A parent has one detach pending at most: a killed run's is finished before another starts.
  rows.sort((a, b) => Number(b.state === 'detaching') - Number(a.state === 'detaching'));
  for (const r of rows) {
    const [, parent, y, m] = PARTITION.exec(r.table)!;
    const month = `${y}-${m}`;
    if (r.state === 'attached' && month >= horizon) continue;
    if (r.state === 'attached') await pool.query(`alter table invoicing.${parent} detach partition invoicing.${r.table} concurrently`);
    else if (r.state === 'detaching') await pool.query(`alter table invoicing.${parent} detach partition invoicing.${r.table} finalize`);
    await pool.query(`drop table invoicing.${r.table}`);
    months.add(month);
  }
  const dropped = [...months].sort();
  for (const month of dropped) await say(`dropped invoicing's usage aggregates of ${month} (final, before the usage horizon)`);
  return dropped;
}

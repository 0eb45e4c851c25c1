// The usage aggregates' month tables (migration 018; docs/contracts/invoicing.md,
// "Usage aggregates", "Final months"): the fold makes the months it is about to
// write, and `vault archive` drops those before metering's usage horizon, which
// billing never reads again. Crash-only as metering's month tables: a table
// left detaching is finished, one left detached is dropped, by the next run.
import type pg from 'pg';
import { reachesFrom } from './sql.ts';

/**
 * The months the fold writes for apps `$1` from `$2` (a month's first instant;
 * null: all): every UTC month their closed usage from there on touches. Days
 * and months exist only inside such usage, so no row the fold writes lacks
 * its table.
 */
export const ENSURE_FOLDED_MONTHS = `
  select invoicing.ensure_usage_month(m.month at time zone 'UTC')
    from (select min(lower(u.during)) as lo, max(upper(u.during)) as hi
            from metering.billable_usage u
           where u.app_id = any($1::text[]) and not upper_inf(u.during) and ${reachesFrom('u', '$2::timestamptz')}) b
    cross join lateral generate_series(date_trunc('month', greatest(b.lo, $2::timestamptz) at time zone 'UTC'),
                                       (b.hi - interval '1 microsecond') at time zone 'UTC', interval '1 month') m(month)`;

/**
 * The current and the next UTC month's tables, made ahead in a transaction of
 * their own (ensure_usage_month's exclusive lock is then brief): the fold
 * writes into them without making a table, so readers never wait on it.
 */
export const ENSURE_MONTHS_AHEAD = `
  select invoicing.ensure_usage_month((date_trunc('month', now() at time zone 'UTC') + m * interval '1 month') at time zone 'UTC')
    from generate_series(0, 1) m`;

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

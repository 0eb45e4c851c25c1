// The usage aggregates' fold job (docs/contracts/invoicing.md, "Usage
// aggregates"): takes the apps whose usage or ownership changed from
// metering.usage_changes and computes their rows of invoicing.usage_days
// again, in the transaction that deletes the changes it folded. A change
// committed after this transaction's statements took their snapshots stays
// queued, so its app is read live until the next fold: the aggregates are
// never trusted for an app with a change waiting.
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import { startLoop, type Logger, type Loop } from '@vault/runtime';
import { ms, reachesFrom } from './sql.ts';

/** One folder at a time: two folds of one app with different snapshots could commit in the wrong order. */
export const FOLD_LOCK = 7_019_001;

/** A UTC day's first instant, whatever the session's time zone (timestamptz + 24 hours is absolute). */
export const utcDay = (t: string) => `date_bin(interval '24 hours', ${t}, timestamptz '2000-01-01 00:00:00+00')`;

/**
 * Takes the first `$1` queued rows; returns the apps they name, each with the
 * UTC month its changes count from (null: its whole history). A change
 * changes nothing before its `since` (metering migration 017), and nothing
 * before the usage horizon is read again (metering migration 018): the
 * aggregates of months before it are final, and their settled usage is gone.
 */
const TAKE = `
  with taken as (
    delete from metering.usage_changes
     where id in (select id from metering.usage_changes order by id limit $1)
    returning apps, since
  )
  select a.app_id, greatest(case when bool_or(t.since is null) then null
                                 else date_trunc('month', min(t.since), 'UTC') end,
                            (select h.starts from metering.billable_horizon h)) as from_month
    from taken t cross join lateral unnest(t.apps) a(app_id)
   group by a.app_id`;

/**
 * Each closed interval inside each owner's span, cut into UTC days; the days
 * summed per UTC month (migration 012). From `$2` on (a month's first instant;
 * null: all): the days and months before it are kept as they are.
 */
export const FOLD_DAYS = `
  with days as (
  insert into invoicing.usage_days (account_id, day, month, app_id, kind, key, product, ms)
  select o.account_id, d.day, date_trunc('month', d.day, 'UTC'), u.app_id, u.kind, u.key, u.product, sum(${ms("p.r * tstzrange(d.day, d.day + interval '24 hours', '[)')")})
    from metering.billable_usage u
    join metering.billable_ownership o on o.app_id = u.app_id and o.during && u.during
    cross join lateral (select u.during * o.during * tstzrange($2::timestamptz, null) as r) p
    cross join lateral generate_series(${utcDay('lower(p.r)')}, ${utcDay("upper(p.r) - interval '1 microsecond'")}, interval '24 hours') d(day)
   where u.app_id = any($1::text[]) and o.app_id = any($1::text[]) and not upper_inf(u.during)
     and not isempty(p.r) and ${reachesFrom('u', '$2::timestamptz')}
   group by 1, 2, 3, 4, 5, 6, 7
  having sum(${ms("p.r * tstzrange(d.day, d.day + interval '24 hours', '[)')")}) > 0
  returning *)
  insert into invoicing.usage_months (month, account_id, app_id, kind, key, product, ms)
  select month, account_id, app_id, kind, key, product, sum(ms)
    from days group by 1, 2, 3, 4, 5, 6`;

/** The folded apps' running intervals, as metering has them now (migration 017): finalize clips them live. */
const RUNNING = `
  insert into invoicing.usage_running (app_id, kind, key, product, during)
  select app_id, kind, key, product, during from metering.billable_usage
   where app_id = any($1::text[]) and upper_inf(during) and last_month = 'infinity'`;

/** A UTC month's first instant as a timestamp without zone (month arithmetic in UTC whatever the session's zone). */
const utcMonth = (t: string) => `date_trunc('month', (${t}) at time zone 'UTC')`;

/**
 * Per UTC month, the folded apps' closed usage no owner covered (migration
 * 017): each piece of (interval − the app's whole ownership) cut at the months'
 * bounds, a row wherever a piece exists (UNOWNED holds an app for a piece of 0 ms too).
 * From `$2` on, as FOLD_DAYS.
 */
const UNOWNED_MONTHS = `
  insert into invoicing.unowned_months (month, app_id, ms)
  select m.month at time zone 'UTC', u.app_id, sum(${ms('p.r')})
    from metering.billable_usage u
    left join (select app_id, range_agg(during) as owned from metering.billable_ownership
                where app_id = any($1::text[]) group by 1) o on o.app_id = u.app_id
    cross join lateral unnest(tstzmultirange(u.during * tstzrange($2::timestamptz, null)) - coalesce(o.owned, '{}'::tstzmultirange)) x(r)
    cross join lateral generate_series(${utcMonth('lower(x.r)')}, ${utcMonth("upper(x.r) - interval '1 microsecond'")}, interval '1 month') m(month)
    cross join lateral (select x.r * tstzrange(m.month at time zone 'UTC', (m.month + interval '1 month') at time zone 'UTC', '[)') as r) p
   where u.app_id = any($1::text[]) and not upper_inf(u.during) and ${reachesFrom('u', '$2::timestamptz')}
   group by 1, 2`;

/** Folds the apps of up to `limit` queued rows (a row per statement that wrote usage); returns how many apps it folded (0: nothing waits). */
export async function foldUsageChanges(pool: pg.Pool, limit = 50): Promise<number> {
  return withTransaction(
    pool,
    async (client) => {
      await client.query('select pg_advisory_xact_lock($1)', [FOLD_LOCK]);
      return foldTaken(client, limit);
    },
    { name: 'usage_fold' },
  );
}

/** The fold's work inside the caller's transaction, which holds FOLD_LOCK; returns how many apps it folded. */
export async function foldTaken(client: pg.PoolClient, limit: number): Promise<number> {
  const { rows } = await client.query<{ app_id: string; from_month: Date | null }>(TAKE, [limit]);
  if (rows.length === 0) return 0;
  // usage_days refuses a fold that does not keep the two tables below (migration 017).
  await client.query(`select set_config('invoicing.fold_keeps', 'running and unowned', true)`);
  // The apps of one batch share a few months to count from: one round of statements per month.
  for (const { from, apps } of byFromMonth(rows)) {
    await client.query(
      `with months as (delete from invoicing.usage_months where app_id = any($1::text[]) and ($2::timestamptz is null or month >= $2)),
            running as (delete from invoicing.usage_running where app_id = any($1::text[])),
            unowned as (delete from invoicing.unowned_months where app_id = any($1::text[]) and ($2::timestamptz is null or month >= $2))
       delete from invoicing.usage_days where app_id = any($1::text[]) and ($2::timestamptz is null or day >= $2)`,
      [apps, from],
    );
    await client.query(FOLD_DAYS, [apps, from]);
    await client.query(RUNNING, [apps]);
    await client.query(UNOWNED_MONTHS, [apps, from]);
  }
  return rows.length;
}

/** The apps grouped by the month they are folded again from (null: their whole history). */
function byFromMonth(rows: { app_id: string; from_month: Date | null }[]): { from: Date | null; apps: string[] }[] {
  const groups = new Map<number | null, { from: Date | null; apps: string[] }>();
  for (const r of rows) {
    const key = r.from_month?.getTime() ?? null;
    const group = groups.get(key) ?? { from: r.from_month, apps: [] };
    group.apps.push(r.app_id);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/** Folds until nothing waits; returns the apps folded. Tests and the bench use it to catch up. */
export async function foldAllUsageChanges(pool: pg.Pool, limit?: number): Promise<number> {
  let total = 0;
  for (let n = await foldUsageChanges(pool, limit); n > 0; n = await foldUsageChanges(pool, limit)) total += n;
  return total;
}

/** The in-service fold: every `everyMs`, and at once again while a fold found a full batch. */
export function startUsageFold(deps: { pool: pg.Pool; everyMs: number; log: Logger; limit?: number }): Loop {
  const limit = deps.limit ?? 50;
  return startLoop({
    firstAfterMs: 0,
    everyMs: deps.everyMs,
    async tick() {
      const started = performance.now();
      const apps = await foldUsageChanges(deps.pool, limit);
      if (apps > 0) {
        deps.log.info('invoicing.usage_folded', {
          'count#invoicing.usage_folded_apps': apps,
          'measure#invoicing.usage_fold_ms': Math.round(performance.now() - started),
        });
      }
      return apps > 0;
    },
    // Crash-only: what this fold did not commit is still queued.
    onError: (err) => deps.log.error('invoicing.usage_fold_failed', err),
  });
}

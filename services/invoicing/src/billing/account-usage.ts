// One account's current usage from the aggregates (docs/contracts/invoicing.md,
// "Usage aggregates"): whole UTC days of closed intervals from
// invoicing.usage_days, and live from metering's views only what the
// aggregates do not hold — running intervals, the day the window ends in, and
// every app with a change still queued. Equal to the live statements
// (LINE_USAGE_SQL, readDailyUsage) by construction, checked by a property
// test (test/usage-days.test.ts).
import type pg from 'pg';
import type { LineUsage, UsageKind } from '../domain/usage.ts';
import { ms, reachesFrom } from './sql.ts';
import { utcDay } from './usage-days.ts';

const DAY_MS = 86_400_000;

/**
 * $1 the window's start (a UTC day's start), $2 its end, $3 the account. `parts`
 * is every piece of usage of the window: stored days of apps with nothing
 * queued, and live pieces clipped to `x.r`, the part the aggregates lack.
 */
const PARTS = `
  w as (select $1::timestamptz as f, $2::timestamptz as t, tstzrange($1::timestamptz, $2::timestamptz, '[)') as r,
               greatest($1::timestamptz, ${utcDay('$2::timestamptz')}) as cut),
  own as (select o.app_id, o.during from metering.billable_ownership o, w where o.account_id = $3 and o.during && w.r),
  kept as (select d.* from invoicing.usage_days d, w where d.account_id = $3 and d.day >= w.f and d.day < w.cut),
  -- An app whose ownership moved away has stale rows here but no span in own: both are asked about.
  asked as (select array(select app_id from own union select app_id from kept) as apps),
  queued as (select distinct a.app_id from metering.usage_changes c, asked, unnest(c.apps) a(app_id)
              where c.apps && asked.apps and a.app_id = any(asked.apps)),
  live as (
    select u.app_id, u.kind, u.key, u.product, u.during * o.during * x.r as r
      from own o
      join metering.billable_usage u on u.app_id = o.app_id and u.during && o.during
      cross join w
      cross join lateral (
        select case when upper_inf(u.during) or o.app_id in (select app_id from queued) then w.r
                    else tstzrange(w.cut, w.t, '[)') end as r
      ) x
     where u.during && x.r and o.during && x.r and ${reachesFrom('u', '$1::timestamptz')}
  )`;

export const ACCOUNT_LINES = `
  with ${PARTS}
  select app_id, kind, key, product, sum(ms)::text as ms from (
    select app_id, kind, key, product, ms from kept where app_id not in (select app_id from queued)
    union all
    select app_id, kind, key, product, ${ms('r')} from live where not isempty(r)
  ) parts
  group by 1, 2, 3, 4`;

/** Per day of the window (0 = its first) and product. */
export const ACCOUNT_DAYS = `
  with ${PARTS}
  select day, product, sum(ms)::text as ms from (
    select floor(extract(epoch from kept.day - w.f) / 86400)::int as day, product, ms
      from kept, w where app_id not in (select app_id from queued)
    union all
    select floor(extract(epoch from d.day - w.f) / 86400)::int, live.product,
           ${ms("live.r * tstzrange(d.day, d.day + interval '24 hours', '[)')")}
      from live cross join w
      cross join lateral generate_series(${utcDay('lower(live.r)')}, ${utcDay("upper(live.r) - interval '1 microsecond'")}, interval '24 hours') d(day)
     where not isempty(live.r)
  ) parts
  group by 1, 2`;

/** Whether the window can be read from the aggregates: it starts on a UTC day. */
export const dayAligned = (from: Date) => from.getTime() % DAY_MS === 0;

/**
 * One account's usage per line key in [from, to), as readLineUsage computes
 * it live; undefined when the window does not start on a UTC day (the
 * caller reads it live then).
 */
export async function readAccountUsage(
  db: pg.Pool | pg.PoolClient,
  window: { account: string; from: Date; to: Date },
): Promise<LineUsage[] | undefined> {
  if (!dayAligned(window.from)) return undefined;
  if (window.to <= window.from) return [];
  const { rows } = await db.query<{ app_id: string; kind: UsageKind; key: string; product: string; ms: string }>(ACCOUNT_LINES, [
    window.from,
    window.to,
    window.account,
  ]);
  return rows.map((r) => ({ appId: r.app_id, kind: r.kind, key: r.key, product: r.product, ms: Number(r.ms) })).filter((l) => l.ms > 0);
}

/**
 * One account's usage per UTC day and product of [from, to) from the
 * aggregates, as readDailyUsage computes it live for consecutive days; undefined
 * when `from` is not a UTC day's start.
 */
export async function readAccountDays(
  db: pg.Pool | pg.PoolClient,
  window: { account: string; from: Date; to: Date },
): Promise<{ day: number; product: string; ms: number }[] | undefined> {
  if (!dayAligned(window.from)) return undefined;
  if (window.to <= window.from) return [];
  const { rows } = await db.query<{ day: number; product: string; ms: string }>(ACCOUNT_DAYS, [window.from, window.to, window.account]);
  return daysOfRows(rows);
}

/** ACCOUNT_LINES' rows as the rating domain's usage. */
export function usageOfRows(rows: readonly { app_id: string; kind: UsageKind; key: string; product: string; ms: string }[]): LineUsage[] {
  return rows.map((r) => ({ appId: r.app_id, kind: r.kind, key: r.key, product: r.product, ms: Number(r.ms) })).filter((l) => l.ms > 0);
}

/** ACCOUNT_DAYS' rows. */
export function daysOfRows(rows: readonly { day: number; product: string; ms: string }[]): { day: number; product: string; ms: number }[] {
  return rows.map((r) => ({ day: r.day, product: r.product, ms: Number(r.ms) })).filter((r) => r.ms > 0);
}

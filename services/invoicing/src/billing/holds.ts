import type pg from 'pg';
import type { Hold } from '@vault/contracts';
import { ms, QUEUED_APPS, reachesFrom } from './sql.ts';

/** The rows of the UNOWNED statements from their `unowned` (app, total) and `w` (the window): each app with the accounts that owned it in the window. */
const UNOWNED_ROWS = `select unowned.app_id, unowned.total::text as unowned_ms,
         array(select distinct o.account_id from metering.billable_ownership o, w
                where o.app_id = unowned.app_id and o.during && w.r) as accounts
    from unowned`;

/** A hold with the account it holds; null when no account owned the app in the window. */
export type AccountHold = Hold & { account_id: string | null };

/**
 * Apps with a sequence hole whose unreliable time reaches into the window,
 * held for every account that owned the app in the unreliable part: from
 * unreliable_from (the window's start when null or earlier) to the window's
 * end, an empty range when the hole begins after it.
 */
export const GAPS = `
  select distinct o.account_id, g.app_id, g.subject, g.missing_sequence::text, g.unreliable_from
    from metering.unreliable_apps g
    join metering.billable_ownership o on o.app_id = g.app_id
   where o.during && tstzrange(least(greatest($1::timestamptz, g.unreliable_from), $2::timestamptz), $2::timestamptz, '[)')
     and ($3::text[] is null or o.account_id = any($3::text[]))`;

/**
 * Apps whose usage in the window is not all covered by an owner, with the
 * accounts that owned them at some point of it (they are held). Each app's
 * ownership in the window is one multirange, so one pass over the usage finds
 * the uncovered intervals; only those are measured. Set-based for all
 * accounts (finalize, the holds report); with $3 given it still aggregates the
 * whole month's ownership, so readHolds scopes with UNOWNED_SCOPED instead.
 */
export const UNOWNED = `
  with w as (select tstzrange($1::timestamptz, $2::timestamptz, '[)') as r),
  owners as (
    select o.app_id, range_agg(o.during * w.r) as owned,
           $3::text[] is null or bool_or(o.account_id = any($3::text[])) as wanted
      from metering.billable_ownership o, w
     where o.during && w.r
     group by 1
  ),
  unowned as (
    select u.app_id, sum(${ms('x.r')}) as total
      from w
      join metering.billable_usage u on u.during && w.r and ${reachesFrom('u', '$1::timestamptz')}
      left join owners on owners.app_id = u.app_id
      cross join lateral unnest(tstzmultirange(u.during * w.r) - coalesce(owners.owned, '{}'::tstzmultirange)) as x(r)
     where not coalesce(owners.owned @> (u.during * w.r), false)
       and ($3::text[] is null or owners.wanted)
     group by 1
  )
  ${UNOWNED_ROWS}`;

/**
 * UNOWNED for a whole UTC month ($1 its start, $2 its end), for finalize: the
 * same rows, without scanning the month's intervals. Apps with a change queued
 * are measured live as UNOWNED measures them; the others from the fold's
 * unowned_months (closed intervals) plus their running intervals
 * (usage_running) against the month's owners (migration 017).
 */
export const UNOWNED_MONTH = `
  with w as (select tstzrange($1::timestamptz, $2::timestamptz, '[)') as r),
  queued as materialized (${QUEUED_APPS}),
  -- The intervals in the month measured here. A running interval reaches into the month when it
  -- starts before the month's end: said so, the planner's estimate of the rows (a range overlap's
  -- is far too low) no longer turns the check of the owners below into a probe per interval.
  measured as (
    select r.app_id, r.during from invoicing.usage_running r
     where r.app_id not in (select app_id from queued) and lower(r.during) < $2::timestamptz
    union all
    select u.app_id, u.during from w, queued join metering.billable_usage u on u.app_id = queued.app_id
     where u.during && w.r and ${reachesFrom('u', '$1::timestamptz')}
  ),
  -- The measured intervals' parts in the month that no one owner's span covers (almost always
  -- none): only those are measured against the app's ownership of the month, as UNOWNED does.
  uncovered as (
    select u.app_id, u.during * w.r as r
      from w, measured u
     where not exists (select 1 from metering.billable_ownership o where o.app_id = u.app_id and o.during @> (u.during * w.r))
  ),
  owners as (
    select o.app_id, range_agg(o.during * w.r) as owned
      from w, metering.billable_ownership o
     where o.app_id in (select app_id from uncovered) and o.during && w.r
     group by 1
  ),
  pieces as (
    select m.app_id, m.ms from invoicing.unowned_months m
     where m.month = $1 and m.app_id not in (select app_id from queued)
    union all
    select u.app_id, ${ms('x.r')}
      from uncovered u
      left join owners on owners.app_id = u.app_id
      cross join lateral unnest(tstzmultirange(u.r) - coalesce(owners.owned, '{}'::tstzmultirange)) as x(r)
  ),
  unowned as (select app_id, sum(ms) as total from pieces group by 1)
  ${UNOWNED_ROWS}`;

/**
 * GAPS for the accounts $3 only, from their ownership rows (by account_id):
 * what GAPS gives them, without the `is null or` a generic plan could not
 * turn into an index lookup.
 */
export const GAPS_SCOPED = `
  select distinct o.account_id, g.app_id, g.subject, g.missing_sequence::text, g.unreliable_from
    from metering.billable_ownership o
    join metering.unreliable_apps g on g.app_id = o.app_id
   where o.account_id = any($3::text[])
     and o.during && tstzrange(least(greatest($1::timestamptz, g.unreliable_from), $2::timestamptz), $2::timestamptz, '[)')`;

/**
 * UNOWNED's rows for the apps the accounts $3 owned in the window (its
 * `wanted` apps): found by account_id, then only those apps' ownership (every
 * owner's: another account may have owned the app for part of the window)
 * and usage, each by app_id. The same columns, totals and owners as UNOWNED.
 */
export const UNOWNED_SCOPED = `
  with w as (select tstzrange($1::timestamptz, $2::timestamptz, '[)') as r),
  apps as (
    select distinct o.app_id from metering.billable_ownership o, w
     where o.account_id = any($3::text[]) and o.during && w.r
  ),
  owners as (
    select o.app_id, range_agg(o.during * w.r) as owned
      from apps cross join w
      join metering.billable_ownership o on o.app_id = apps.app_id and o.during && w.r
     group by 1
  ),
  unowned as (
    select u.app_id, sum(${ms('x.r')}) as total
      from owners cross join w
      join metering.billable_usage u on u.app_id = owners.app_id and u.during && w.r and ${reachesFrom('u', '$1::timestamptz')}
      cross join lateral unnest(tstzmultirange(u.during * w.r) - owners.owned) as x(r)
     where not owners.owned @> (u.during * w.r)
     group by 1
  )
  ${UNOWNED_ROWS}`;

/** Holds from metering's side of the window: gaps and unowned usage (unpriced comes from pricing). */
export async function readHolds(
  db: pg.Pool | pg.PoolClient,
  window: { from: Date; to: Date; accounts?: readonly string[] },
): Promise<AccountHold[]> {
  if (window.to <= window.from) return [];
  const params = [window.from, window.to, window.accounts ?? null];
  // A few accounts (a draft, the usage page): statements that start from their rows.
  const scoped = window.accounts !== undefined;
  const [gaps, unowned] = await Promise.all([
    db.query<GapRow>(scoped ? GAPS_SCOPED : GAPS, params),
    db.query<UnownedRow>(scoped ? UNOWNED_SCOPED : UNOWNED, params),
  ]);
  return holdsOfRows(gaps.rows, unowned.rows, window.accounts);
}

export type GapRow = { account_id: string; app_id: string; subject: string; missing_sequence: string; unreliable_from: Date | null };
export type UnownedRow = { app_id: string; unowned_ms: string; accounts: string[] };

/** The holds GAPS' and UNOWNED's rows put on `accounts` (on every owner, and on no one, when unscoped). */
export function holdsOfRows(gaps: readonly GapRow[], unowned: readonly UnownedRow[], accounts?: readonly string[]): AccountHold[] {
  const holds: AccountHold[] = gaps.map((g) => ({ account_id: g.account_id, ...gapHold(g) }));
  for (const u of unowned) {
    const hold = unownedHold(u);
    const owners = u.accounts.filter((a) => !accounts || accounts.includes(a));
    if (owners.length === 0 && !accounts) holds.push({ account_id: null, ...hold });
    for (const account of owners) holds.push({ account_id: account, ...hold });
  }
  return holds;
}

/** The hold a row of GAPS puts on an account. */
export function gapHold(g: { app_id: string; subject: string; missing_sequence: string; unreliable_from: Date | null }): Hold {
  return {
    reason: 'gap',
    app_id: g.app_id,
    detail: `subject ${g.subject} is missing sequence ${g.missing_sequence}; its usage is unreliable from ${
      g.unreliable_from ? g.unreliable_from.toISOString() : 'its start'
    }`,
  };
}

/** The hold a row of UNOWNED puts on each account that owned the app. */
export function unownedHold(u: { app_id: string; unowned_ms: string }): Hold {
  return { reason: 'unowned', app_id: u.app_id, detail: `${formatSeconds(Number(u.unowned_ms))} of usage while the app had no owner` };
}

const formatSeconds = (msTotal: number) => `${(msTotal / 1000).toFixed(3).replace(/\.?0+$/, '')} s`;

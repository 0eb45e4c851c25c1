// Which months are final for billing (docs/contracts/invoicing.md, "Final
// months"): what `vault archive` asks before it moves metering's usage horizon
// (metering migration 018) past them. Before the horizon invoicing never reads
// usage again — no fold, no late usage, no finalize — so a month may pass only
// when nothing of it can still be billed: every account with usage in it has
// its invoice, no app of it is held, its late usage is carried, and every
// change of it is folded into the aggregates.
import type pg from 'pg';
import { LATE_MARGIN_INTERVAL } from './sql.ts';

type Db = pg.Pool | pg.PoolClient;

/** A month that is not final yet, the first found, and why. */
export interface OpenMonth {
  /** YYYY-MM */
  period: string;
  reason: string;
}

/** The usage horizon's month (YYYY-MM), or null when metering has none yet. */
export async function usageHorizon(db: Db): Promise<string | null> {
  const { rows } = await db.query<{ period: string }>('select period from metering.billable_horizon');
  return rows[0]?.period ?? null;
}

/** A month key's first instant, for comparing with timestamptz columns. */
const monthStart = (period: string) => `${period}-01T00:00:00Z`;

interface Check {
  sql: string;
  /** Its parameters from the months' bounds: the first instant of `before` and of `from` ('-infinity': none). */
  params: (before: string, from: string) => unknown[];
  reason: (r: Record<string, string>) => string;
}

const BOUNDS = (before: string, from: string) => [before, from];

/** Each check's first open month (YYYY-MM) before `before`, with what makes it open. */
const CHECKS: Check[] = [
  {
    // Aggregates of folded usage: an account's usage in a month without its invoice (not finalized yet, or held).
    sql: `select to_char(m.month at time zone 'UTC', 'YYYY-MM') as period, m.account_id
            from invoicing.usage_months m
           where m.month < $1::timestamptz and m.month >= $2::timestamptz
             and not exists (select 1 from invoicing.invoices i
                              where i.account_id = m.account_id and i.period = to_char(m.month at time zone 'UTC', 'YYYY-MM'))
           order by m.month limit 1`,
    params: BOUNDS,
    reason: (r) => `account ${r.account_id} has usage in it and no invoice of it (not finalized yet, or held)`,
  },
  {
    sql: `select to_char(month at time zone 'UTC', 'YYYY-MM') as period, app_id
            from invoicing.unowned_months where month < $1::timestamptz and month >= $2::timestamptz
           order by month limit 1`,
    params: BOUNDS,
    reason: (r) => `app ${r.app_id} has usage no owner covers (held)`,
  },
  {
    // A hole holds an app's accounts from its last reliable event on (holds.ts, GAPS).
    sql: `select coalesce(to_char(g.unreliable_from at time zone 'UTC', 'YYYY-MM'), '0000-01') as period, g.app_id, g.subject
            from metering.unreliable_apps g
           where coalesce(g.unreliable_from, '-infinity') < $1::timestamptz
           order by g.unreliable_from nulls first limit 1`,
    params: (before) => [before],
    reason: (r) => `app ${r.app_id} has a sequence hole in ${r.subject} (unreliable usage, held)`,
  },
  {
    sql: `select case when bool_or(since is null) then '0000-01' else to_char(min(since) at time zone 'UTC', 'YYYY-MM') end as period, count(*)::text as n
            from metering.usage_changes
          having count(*) > 0 and (bool_or(since is null) or min(since) < $1::timestamptz)`,
    params: (before) => [before],
    reason: (r) => `${r.n} usage change(s) not folded into the aggregates yet (the invoicing service folds them)`,
  },
  {
    // Late usage not carried yet. Finalizing an account's invoice carries every late change of its
    // earlier months learned until that run (less the margin) onto it, so what counts is what was
    // learned since the account's latest invoice: of an app it owned in the month, or was charged for
    // on the month's invoice (late-usage.ts asks the same of the month before finalize's; an account
    // with no invoice of that month, gone or held, is not asked about here for what was carried since).
    sql: `with latest as materialized (
            select account_id, max(finalized_at) - $3::interval as since from invoicing.invoices group by account_id
          ),
          late as materialized (
            select u.app_id, u.during, u.learned_at from metering.billable_usage u
             where u.learned_at > (select min(since) from latest) and u.during && tstzrange($2::timestamptz, $1::timestamptz, '[)')
            union all
            select o.app_id, o.during, o.learned_at from metering.billable_ownership o
             where o.learned_at > (select min(since) from latest) and o.during && tstzrange($2::timestamptz, $1::timestamptz, '[)')
          )
          select period, account_id, app_id from (
            select to_char(greatest(lower(l.during), lower(o.during), $2::timestamptz) at time zone 'UTC', 'YYYY-MM') as period,
                   o.account_id, l.app_id
              from late l
              join metering.billable_ownership o on o.app_id = l.app_id and o.during && l.during
              join latest a on a.account_id = o.account_id collate "C"
             where l.learned_at > a.since
            union all
            select i.period, i.account_id, l.app_id
              from late l
              join invoicing.invoice_apps ia on ia.app_id = l.app_id
              join invoicing.invoices i on i.id = ia.invoice_id
              join latest a on a.account_id = i.account_id
             where l.during && tstzrange(i.period_start, i.period_end, '[)') and l.learned_at > a.since
               and i.period_start >= $2::timestamptz and i.period_start < $1::timestamptz
          ) c
          order by period limit 1`,
    params: (before, from) => [before, from, LATE_MARGIN_INTERVAL],
    reason: (r) =>
      `late usage of app ${r.app_id} for account ${r.account_id} is not carried onto an invoice yet (the next finalize carries it)`,
  },
];

/**
 * The first month before `before` (YYYY-MM), and from `from` on (the current
 * horizon; null: from the beginning), that is not final; null when all are.
 * Each check is one statement; the caller runs them under metering's horizon
 * lock, so no batch commits usage of those months meanwhile.
 */
export async function firstOpenMonth(db: Db, before: string, from: string | null): Promise<OpenMonth | null> {
  const after = from === null ? '-infinity' : monthStart(from);
  let first: OpenMonth | null = null;
  for (const check of CHECKS) {
    const { rows } = await db.query<Record<string, string>>(check.sql, check.params(monthStart(before), after));
    const r = rows[0];
    if (r === undefined || r.period! >= before) continue;
    if (first === null || r.period! < first.period) first = { period: r.period!, reason: check.reason(r) };
  }
  return first;
}

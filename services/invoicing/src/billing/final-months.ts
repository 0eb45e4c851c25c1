// Which months are final for billing (docs/contracts/invoicing.md, "Final
// months"): what `vault archive` asks before it moves metering's usage horizon
// (metering migration 018) past them. Before the horizon invoicing never reads
// usage again — no fold, no late usage, no finalize — so a month may pass only
// when nothing of it can still be billed: every account with usage in it has
// its invoice, no app of it is held, and no late change of it is left to carry.
import { DateTime } from 'luxon';
import type pg from 'pg';
import type { PriceBook } from '@vault/contracts';
import { periodContaining, type Period } from '../domain/period.ts';
import { lateAdjustments, lateCandidates } from './late-usage.ts';
import { requireMetering } from './metering-schema.ts';
import { LATE_MARGIN_INTERVAL } from './sql.ts';
import { FOLD_LOCK, foldTaken } from './usage-days.ts';

/** A month that is not final yet, the first found, and why. */
export interface OpenMonth {
  /** YYYY-MM */
  period: string;
  reason: string;
}

/** The usage horizon's month (YYYY-MM), or null when metering has none yet. */
export async function usageHorizon(db: pg.Pool | pg.PoolClient): Promise<string | null> {
  const { rows } = await db.query<{ period: string }>('select period from metering.billable_horizon');
  return rows[0]?.period ?? null;
}

/**
 * The first month the schedule finalizes: the usage horizon's, or the first with usage; none without
 * usage. Without metering's published views (not migrated yet, or never) a MeteringNotReadyError:
 * that is not knowing, never "no usage" (a due month exported as an empty file).
 */
export async function firstBillableMonth(db: pg.Pool | pg.PoolClient): Promise<Period | undefined> {
  await requireMetering(db);
  const { rows } = await db.query<{ first: Date | null }>(
    `select coalesce((select starts from metering.billable_horizon), (select min(lower(during)) from metering.billable_usage)) as first`,
  );
  const first = rows[0]?.first;
  return first ? periodContaining(DateTime.fromJSDate(first)) : undefined;
}

/** A month key's first instant, for comparing with timestamptz columns. */
const monthStart = (period: string) => `${period}-01T00:00:00Z`;

/** A bounded range's UTC months, as `m.month` (a timestamp without zone) for a lateral join. */
const MONTHS_OF = (range: string) =>
  `generate_series(date_trunc('month', lower(${range}) at time zone 'UTC'),
                   date_trunc('month', (upper(${range}) - interval '1 microsecond') at time zone 'UTC'), interval '1 month') m(month)`;

/** An account's invoice of month `m.month`. */
const INVOICED = (account: string) =>
  `exists (select 1 from invoicing.invoices i where i.account_id = ${account} and i.period = to_char(m.month, 'YYYY-MM'))`;

/**
 * Each check: the first open month (YYYY-MM) in [$2, $1) and what makes it
 * open. The fold keeps closed intervals in usage_months and unowned_months and
 * running ones in usage_running (finalize reads both), hence two of each.
 */
interface Check {
  sql: string;
  /** Its parameters from the first instants of `before` and of `from` ('-infinity': none). */
  params: (before: string, from: string) => unknown[];
  reason: (r: Record<string, string>) => string;
}
const BOUNDS = (before: string, from: string) => [before, from];
const BEFORE = (before: string) => [before];

const CHECKS: Check[] = [
  {
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
    sql: `select to_char(min(m.month), 'YYYY-MM') as period, min(o.account_id) as account_id
            from invoicing.usage_running r
            join metering.billable_ownership o on o.app_id = r.app_id and o.during && r.during
            cross join lateral (select r.during * o.during * tstzrange($2::timestamptz, $1::timestamptz, '[)') as x) p
            cross join lateral ${MONTHS_OF('p.x')}
           where not isempty(p.x) and not ${INVOICED('o.account_id collate "C"')}
          having count(*) > 0`,
    params: BOUNDS,
    reason: (r) => `account ${r.account_id} has usage running in it and no invoice of it (not finalized yet, or held)`,
  },
  {
    sql: `select to_char(month at time zone 'UTC', 'YYYY-MM') as period, app_id
            from invoicing.unowned_months where month < $1::timestamptz and month >= $2::timestamptz
           order by month limit 1`,
    params: BOUNDS,
    reason: (r) => `app ${r.app_id} has usage no owner covers (held)`,
  },
  {
    sql: `select to_char(min(lower(x.r)) at time zone 'UTC', 'YYYY-MM') as period, min(r.app_id) as app_id
            from invoicing.usage_running r
            left join (select app_id, range_agg(during) as owned from metering.billable_ownership
                        where app_id in (select app_id from invoicing.usage_running) group by 1) o on o.app_id = r.app_id
            cross join lateral unnest(tstzmultirange(r.during * tstzrange($2::timestamptz, $1::timestamptz, '[)'))
                                      - coalesce(o.owned, '{}'::tstzmultirange)) x(r)
          having count(*) > 0`,
    params: BOUNDS,
    reason: (r) => `app ${r.app_id} has usage running that no owner covers (held)`,
  },
  {
    // A hole holds an app's accounts from its last reliable event on (holds.ts, GAPS): before `from` too.
    sql: `select coalesce(to_char(g.unreliable_from at time zone 'UTC', 'YYYY-MM'), '0000-01') as period, g.app_id, g.subject
            from metering.unreliable_apps g
           where coalesce(g.unreliable_from, '-infinity') < $1::timestamptz
           order by g.unreliable_from nulls first limit 1`,
    params: BEFORE,
    reason: (r) => `app ${r.app_id} has a sequence hole in ${r.subject} (unreliable usage, held)`,
  },
  {
    // Folded just before, under the fold's lock: only a writer other than the consumer could have queued one since.
    sql: `select case when bool_or(since is null) then '0000-01' else to_char(min(since) at time zone 'UTC', 'YYYY-MM') end as period,
                 count(*)::text as n
            from metering.usage_changes
          having count(*) > 0 and (bool_or(since is null) or min(since) < $1::timestamptz)`,
    params: BEFORE,
    reason: (r) => `${r.n} usage change(s) not folded into the aggregates`,
  },
];

/**
 * The first month before `before` (YYYY-MM), and from `from` on (the current
 * horizon; null: from the beginning), that is not final; null when all are.
 * Run inside metering's horizon move (its transaction holds the horizon's
 * lock, so no consumer batch commits meanwhile): it takes the fold's lock for
 * that transaction and folds what is queued first, so the aggregates it
 * reads are whole and no fold commits while it reads. Late usage is what
 * finalize would carry now: the adjustments its late-usage candidates give
 * (a candidate whose month charges the same is not late).
 */
export async function firstOpenMonth(
  client: pg.PoolClient,
  asked: { before: string; from: string | null; prices: PriceBook },
): Promise<OpenMonth | null> {
  await client.query('select pg_advisory_xact_lock($1)', [FOLD_LOCK]);
  while ((await foldTaken(client, 500)) > 0) {}
  const before = monthStart(asked.before);
  const from = asked.from === null ? '-infinity' : monthStart(asked.from);
  let first: OpenMonth | null = null;
  const found = (period: string, reason: string) => {
    if (period < asked.before && (first === null || period < first.period)) first = { period, reason };
  };
  for (const check of CHECKS) {
    const { rows } = await client.query<Record<string, string>>(check.sql, check.params(before, from));
    if (rows[0] !== undefined) found(rows[0].period!, check.reason(rows[0]));
  }
  const candidates = await lateCandidates(client, new Date(before), undefined, LATE_MARGIN_INTERVAL);
  const adjustments = await lateAdjustments(client, asked.prices, candidates);
  for (const [account, lines] of adjustments) {
    for (const l of lines) {
      if (l.adjusts !== undefined)
        found(
          l.adjusts,
          `late usage of app ${l.app_id} for account ${account} is not carried onto an invoice yet (the next finalize carries it)`,
        );
    }
  }
  return first;
}

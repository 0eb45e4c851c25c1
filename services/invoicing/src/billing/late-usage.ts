// Late usage (docs/contracts/invoicing.md, "Late usage"): which finalized
// months may charge differently now, and the adjustment lines that carry the
// difference onto an account's next invoice. Both set-based: one candidates
// statement (for a few accounts, one that starts from their invoices), then per
// month a few statements for all the accounts asked about.
import type pg from 'pg';
import type { PriceBook } from '@vault/contracts';
import { capLateCredits } from '../domain/late-credit-cap.ts';
import { adjustmentLines, chargedPrices, chargedSoFar, invoiceTotal, priceLines, type PricedLine } from '../domain/lines.ts';
import { parsePeriod } from '../domain/period.ts';
import { chargedLines } from './invoice-store.ts';
import { readLineUsage } from './line-usage.ts';
import { givenBack } from './month-money.ts';
import { reachesFrom } from './sql.ts';
import { appendTo } from '../domain/group.ts';

type Db = pg.Pool | pg.PoolClient;

/** A finalized month of an account that may charge differently now, and an app metering learned late about. */
export interface LateCandidate {
  account_id: string;
  period: string;
  app_id: string;
}

/**
 * The month before `$1`'s key: an account with an invoice of it had all its
 * earlier months' late usage carried onto that invoice by the run that
 * finalized it, up to that run's snapshot less the margin.
 */
const PREVIOUS = `to_char(($1::timestamptz at time zone 'UTC') - interval '1 month', 'YYYY-MM')`;

/**
 * An invoice of a month from the usage horizon on (metering migration 018):
 * months before it are final, their late usage carried before it moved, and
 * their settled usage is gone, so they are never recomputed.
 */
const AFTER_HORIZON = (i: string) => `${i}.period_start >= coalesce((select h.starts from metering.billable_horizon h), '-infinity')`;

/**
 * A row learned late may change a month that charged its app by starting before
 * the month ends, not only by overlapping it: metering derives a subject again
 * whole, so a stop learned late replaces a running interval, which every later
 * month charged, by one that ends before those months, and nothing learned late
 * overlaps them any more. For an app the month did not charge, only a row
 * overlapping the month can add to it. Charged by any means: the month's own
 * invoice lines or an adjustment to the month on a later invoice (a month may
 * charge an app only there: CHARGED_APPS). `a` has `month` and `charged`.
 */
const REACHES_MONTH = (row: string, a: string) =>
  `(${row}.during && ${a}.month or (${a}.charged and lower(${row}.during) < upper(${a}.month)))`;

/**
 * The apps each month of `months` charged, by any means: its invoice's lines,
 * or an adjustment line to that month on a later invoice (migration 022's
 * adjusted_apps; a dyno learned late may be charged to a month only there). A
 * charged app has no ownership span to overlap, hence the unbounded `span`.
 * `months` has account_id, period, number, month and since.
 */
const CHARGED_APPS = (months: string) => `
    select m.account_id, m.period, il.app_id, m.month, '(,)'::tstzrange, m.since, true
      from ${months} m
      join invoicing.invoice_lines il on il.invoice_number = m.number
    union all
    select m.account_id, m.period, aa.app_id, m.month, '(,)'::tstzrange, m.since, true
      from ${months} m
      join invoicing.adjusted_apps aa on aa.account_id = m.account_id and aa.period = m.period`;

/**
 * Spans metering's events made empty (metering migration 022), each a late row
 * of its app at its instant: the interval an invoice charged for it is gone,
 * and nothing learned late replaces it (a stop at its dyno's start).
 */
const VANISHED = `(select v.app_id, tstzrange(v.at, v.at, '[]') as during, v.learned_at from metering.billable_vanished v)`;

/**
 * Whether metering learned a row of `a`'s app late for its month: usage,
 * ownership or a vanished span. `a` has `app_id`, `since`, `month`, `charged`
 * and `span` (the ownership it is within; unbounded for a charged app).
 * Usage of an app the month did not charge overlaps the month: settled, its
 * last month is the month or later (reachesFrom prunes the months before).
 * For a charged app a row ending before the month counts, and the archive
 * settles it into the month it ended, any month before: every settled month
 * is read from the one before the usage horizon on (BEFORE_HORIZON).
 */
/**
 * The first instant of the month before the usage horizon (none: every month). A row learned
 * late and not carried yet ends there at the earliest: a stop timed at the horizon's first
 * instant ends its dyno in the month before, where the archive settles it (and metering keeps
 * that month while such a row may still be carried: docs/contracts/metering.md, "Usage
 * horizon"); one ending earlier was learned before the horizon passed it, and the horizon's
 * gate moved on only once it was carried for every month it changed.
 */
const BEFORE_HORIZON = `(select h.starts - interval '1 month' from metering.billable_horizon h)`;

const LATE_OF_APP = (a: string) => `(
      exists (select 1 from metering.billable_usage u
               where u.app_id = ${a}.app_id and u.learned_at > ${a}.since and ${REACHES_MONTH('u', a)} and u.during && ${a}.span
                 and ${reachesFrom('u', `case when ${a}.charged then ${BEFORE_HORIZON} else lower(${a}.month) end`)})
      or exists (select 1 from metering.billable_ownership o
                  where o.app_id = ${a}.app_id and o.learned_at > ${a}.since and ${REACHES_MONTH('o', a)} and o.during && ${a}.span)
      or exists (select 1 from ${VANISHED} v
                  where v.app_id = ${a}.app_id and v.learned_at > ${a}.since and ${REACHES_MONTH('v', a)} and v.during && ${a}.span))`;

/**
 * The months of `m` (id, account_id, period, since) whose invoice had a
 * chargeback won since: its funds reinstated, received after `since` (the
 * catch-up may bring the event days after the gateway made it, so not its
 * own date). A late credit capped while the chargeback was open
 * (capLateCredits) is owed now, and only a recomputation of the month gives
 * it: each app the month's invoice charged makes it a candidate
 * (lateAdjustments recomputes every app the month charged anyway).
 */
const REINSTATED = (m: string) => `
    select m.account_id, m.period, ia.app_id
      from invoicing.invoice_disputes d
      join invoicing.gateway_events e on e.id = d.reinstated_event
      join ${m} m on m.id = d.invoice_id
      join invoicing.invoice_apps ia on ia.invoice_id = m.id
     where e.received_at > m.since`;

/**
 * Finalized months (before `$1`) that may have late usage: metering
 * learned something about one of the month's apps after, or just before, the
 * invoice was finalized — and, for an account with an invoice of the month
 * before `$1`, after, or just before, that invoice was finalized: the run that
 * finalized it had everything learned until then (less the margin) in its
 * snapshot and carried what changed onto it (docs/contracts/invoicing.md, "Late
 * usage"). So for those accounts only rows learned since the earliest of the
 * previous month's invoices are read, not every row since the first month
 * ever finalized; accounts without such an invoice (gone, or held) are reached
 * from their own invoices as LATE_CANDIDATES_SCOPED reaches them. Whether a
 * candidate changes what the month charges is decided by recomputing it, so a
 * spurious candidate costs time, never money.
 * Parameters: $1 before, $2 the accounts (null: all), $3 the margin.
 */
export const LATE_CANDIDATES = `
  with threshold as (
    select min(finalized_at) - $3::interval as t from invoicing.invoices where period = ${PREVIOUS}
  ),
  late as materialized (
    select u.app_id, u.during, u.learned_at from threshold, metering.billable_usage u where threshold.t is not null and u.learned_at > threshold.t
    union all
    select o.app_id, o.during, o.learned_at from threshold, metering.billable_ownership o where threshold.t is not null and o.learned_at > threshold.t
    union all
    select v.app_id, v.during, v.learned_at from threshold, ${VANISHED} v where threshold.t is not null and v.learned_at > threshold.t
  ),
  recent as (
    -- accounts with an invoice of the previous month, each month with its threshold …
    select i.id, i.account_id, i.period, tstzrange(i.period_start, i.period_end, '[)') as month,
           greatest(i.finalized_at, p.finalized_at) - $3::interval as since
      from invoicing.invoices p
      join invoicing.invoices i on i.account_id = p.account_id and i.period_start < $1 and ${AFTER_HORIZON('i')}
     where p.period = ${PREVIOUS} and ($2::text[] is null or p.account_id = any($2::text[]))
  ),
  touched as (
    -- … that own the app in the late usage's month now …
    select r.account_id, r.period, l.app_id
      from late l
      join metering.billable_ownership o on o.app_id = l.app_id and o.during && l.during
      join recent r on r.account_id = o.account_id and o.during && r.month and l.during && r.month
     where l.learned_at > r.since
    union
    -- … or were charged for it: by a row that starts before the month ends, not only one that
    -- overlaps it (REACHES_MONTH says why)
    select r.account_id, r.period, l.app_id
      from late l
      join invoicing.invoice_apps ia on ia.app_id = l.app_id
      join recent r on r.id = ia.invoice_id and lower(l.during) < upper(r.month)
     where l.learned_at > r.since
    union
    -- … or through an adjustment to the month on a later invoice: invoice_apps has that app
    -- under the invoice carrying the line, not the month it adjusts
    select r.account_id, r.period, l.app_id
      from late l
      join invoicing.adjusted_apps aa on aa.app_id = l.app_id
      join recent r on r.account_id = aa.account_id and r.period = aa.period and lower(l.during) < upper(r.month)
     where l.learned_at > r.since
  ),
  gone as (
    -- accounts with earlier invoices but none of the previous month: from their own invoices,
    -- each with its own threshold, as LATE_CANDIDATES_SCOPED reaches a draft's (joined here:
    -- an array of many accounts as an index condition would be probed once per row)
    select i.id, i.number, i.account_id, i.period, tstzrange(i.period_start, i.period_end, '[)') as month,
           i.finalized_at - $3::interval as since
      from invoicing.invoices i
     where i.period_start < $1 and ${AFTER_HORIZON('i')} and ($2::text[] is null or i.account_id = any($2::text[]))
       and not exists (select 1 from invoicing.invoices p where p.account_id = i.account_id and p.period = ${PREVIOUS})
  ),
  gone_apps as (
    select m.account_id, m.period, o.app_id, m.month, o.during as span, m.since, false as charged
      from gone m
      join metering.billable_ownership o on o.account_id = m.account_id collate "default" and o.during && m.month
    union all${CHARGED_APPS('gone')}
  )
  select distinct account_id, period, app_id from touched
  union
  select a.account_id, a.period, a.app_id from gone_apps a
   where ${LATE_OF_APP('a')}
  union${REINSTATED('recent')}
  union${REINSTATED('gone')}`;

/**
 * LATE_CANDIDATES' rows for the accounts $2 only, reached from their rows:
 * their finalized months (by account_id), the apps each month could charge
 * (the account's ownership overlapping the month, and CHARGED_APPS: the
 * month's invoice lines and the adjustments to it), then whether metering
 * learned anything late of such an app, by app_id. The same conditions as
 * LATE_CANDIDATES' two branches: a charged app has no ownership span to
 * overlap, hence the unbounded `span`; a month's
 * threshold is its invoice's finalization or, when later, that of the
 * account's invoice of the previous month (LATE_CANDIDATES says why).
 */
export const LATE_CANDIDATES_SCOPED = `
  with months as materialized (
    select i.id, i.number, i.account_id, i.period, tstzrange(i.period_start, i.period_end, '[)') as month,
           greatest(i.finalized_at, p.finalized_at) - $3::interval as since
      from invoicing.invoices i
      left join invoicing.invoices p on p.account_id = i.account_id and p.period = ${PREVIOUS}
     where i.account_id = any($2::text[]) and i.period_start < $1 and ${AFTER_HORIZON('i')}
  ),
  apps as (
    select m.account_id, m.period, o.app_id, m.month, o.during as span, m.since, false as charged
      from months m
      -- any($2) is the index condition: the join with invoices' "C"-collated account_id alone is not.
      join metering.billable_ownership o on o.account_id = any($2::text[]) and o.account_id = m.account_id and o.during && m.month
    union all${CHARGED_APPS('months')}
  )
  select distinct a.account_id, a.period, a.app_id from apps a
   where ${LATE_OF_APP('a')}
  union${REINSTATED('months')}`;

export async function lateCandidates(
  db: Db,
  before: Date,
  accounts: readonly string[] | undefined,
  margin: string,
): Promise<LateCandidate[]> {
  const sql = accounts === undefined ? LATE_CANDIDATES : LATE_CANDIDATES_SCOPED;
  const { rows } = await db.query<LateCandidate>(sql, [before, accounts ?? null, margin]);
  return rows;
}

/**
 * For each candidate account, the adjustment lines its next invoice gets: per
 * earlier finalized month with late usage, what the month would charge now
 * minus what it charged (its invoice plus earlier adjustments). The month is
 * recomputed over the apps it charged and the apps learned late: the lines of
 * any other app cannot have changed (metering learned nothing new of them).
 */
export async function lateAdjustments(db: Db, prices: PriceBook, candidates: readonly LateCandidate[]): Promise<Map<string, PricedLine[]>> {
  const byMonth = new Map<string, { accounts: Set<string>; apps: Set<string> }>();
  for (const c of candidates) {
    const month = byMonth.get(c.period) ?? { accounts: new Set(), apps: new Set() };
    month.accounts.add(c.account_id);
    month.apps.add(c.app_id);
    byMonth.set(c.period, month);
  }
  const out = new Map<string, PricedLine[]>();
  // Oldest month first, so an invoice's adjustment lines come in one order whatever the candidates' order.
  for (const key of [...byMonth.keys()].sort()) {
    const month = parsePeriod(key);
    const accounts = [...byMonth.get(key)!.accounts];
    const charged = await chargedLines(db, key, accounts);
    const apps = new Set(byMonth.get(key)!.apps);
    for (const lines of charged.values()) for (const l of lines) apps.add(l.app_id);
    const now = await readLineUsage(db, { from: month.start.toJSDate(), to: month.end.toJSDate(), accounts, apps: [...apps] });
    const found = new Map<string, PricedLine[]>();
    for (const account of accounts) {
      const was = charged.get(account) ?? [];
      found.set(account, adjustmentLines(chargedSoFar(was), priceLines(now.get(account) ?? [], month, chargedPrices(prices, was)), month));
    }
    // A credit never pays back what a refund or chargeback of the month already did (capLateCredits):
    // read only for the accounts the month credits.
    const crediting = [...found].filter(([, lines]) => lines.some((l) => l.amount?.startsWith('-'))).map(([account]) => account);
    const back = await givenBack(db, key, crediting);
    for (const [account, lines] of found) {
      const money = back.get(account);
      const capped = money ? capLateCredits(lines, key, { charged: invoiceTotal(charged.get(account) ?? []), ...money }) : lines;
      for (const line of capped) appendTo(out, account, line);
    }
  }
  return out;
}

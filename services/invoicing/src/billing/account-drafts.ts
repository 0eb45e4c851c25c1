// One account's current usage in one round trip (issue 19): its usage from
// the aggregates (account-usage.ts) for the draft and, when asked, the
// projection and the days of the chart; its holds, late-usage candidates and
// credit, each by the same statement computeDrafts runs for a few accounts,
// composed into one (compose-sql.ts). Only late usage, when there is some,
// costs more round trips, and so does a month before it not invoiced yet
// (PREVIOUS_MONTH). The drafts come from assembleDraft, as everywhere.
import type pg from 'pg';
import type { PriceBook } from '@vault/contracts';
import { minimumChargeAmount } from '../charging/amount.ts';
import { lotsAliveAt } from '../domain/credit.ts';
import { afterPrevious, assembleDraft, type RidingFacts } from '../domain/draft.ts';
import { type DraftInvoice, invoiceId } from '../domain/invoice.ts';
import type { PricedLine } from '../domain/lines.ts';
import type { Period } from '../domain/period.ts';
import type { UsageKind } from '../domain/usage.ts';
import { ACCOUNT_DAYS, ACCOUNT_LINES, dayAligned, daysOfRows, usageOfRows } from './account-usage.ts';
import { composeJson } from './compose-sql.ts';
import { CREDIT_LOTS, lotsOfRows, type LotRow, SMALL_INVOICES, smallOfRows, type SmallRow } from './credit-store.ts';
import { GAPS_SCOPED, type GapRow, holdsOfRows, UNOWNED_SCOPED, type UnownedRow } from './holds.ts';
import { LATE_CANDIDATES_SCOPED, lateAdjustments, type LateCandidate } from './late-usage.ts';
import { LATE_MARGIN_INTERVAL, reachesFrom } from './sql.ts';

export interface AccountScope {
  account: string;
  period: Period;
  /** The draft's usage counts up to this instant (at most the period's end). */
  until: Date;
  /** Also the projection: usage up to the period's end, with the draft's holds and credit. */
  projection?: boolean;
  /** Also the usage per UTC day up to `until`, for the chart. */
  days?: boolean;
  /** The credit balance as of this instant: the lots still alive then (Billing gives the month's due time, or now when later). */
  creditAt: Date;
  /**
   * The month before `period`, when it has ended: unless the account has an
   * invoice of it, finalize settles it first, so the draft and the projection
   * are built from what its draft leaves (afterPrevious: its adjustments,
   * carried totals and credit, and what it adds). `creditAt`: when it is
   * settled (its due time, or now when later).
   */
  previous?: { period: Period; creditAt: Date };
}

export interface AccountView {
  draft: DraftInvoice;
  projection?: DraftInvoice;
  days?: { day: number; product: string; ms: number }[];
}

type LineRow = { app_id: string; kind: UsageKind; key: string; product: string; ms: string };
type JsonGapRow = Omit<GapRow, 'unreliable_from'> & { unreliable_from: string | null };
type JsonLotRow = Omit<LotRow, 'expires_at' | 'at'> & { expires_at: string | null; at: string };

/**
 * Whether the account has an invoice of the month before ($1 its id: ids
 * follow from the account and month), owned an app in it and had usage in it
 * ($2 the account, $3 and $4 the month). With no invoice, its usage and holds
 * are read (one more statement) when it had usage, or owned an app and has
 * late-usage candidates (a hold of the app would hold their adjustments);
 * otherwise its draft is the adjustments the view's own candidates give, or
 * nothing. So the extra statement runs only while a month with usage waits
 * for its invoice: the grace period, or a hold.
 */
const PREVIOUS_MONTH = `
  with w as (select tstzrange($3::timestamptz, $4::timestamptz, '[)') as r)
  select exists (select 1 from invoicing.invoices i where i.id = $1) as invoiced,
         exists (select 1 from w, metering.billable_ownership o where o.account_id = $2 and o.during && w.r) as owned,
         exists (select 1 from w, metering.billable_ownership o
                   join metering.billable_usage u on u.app_id = o.app_id and u.during && o.during
                  where o.account_id = $2 and o.during && w.r and u.during && (o.during * w.r)
                    and ${reachesFrom('u', '$3::timestamptz')}) as used`;

export async function accountView(db: pg.Pool | pg.PoolClient, prices: PriceBook, scope: AccountScope): Promise<AccountView> {
  const { account, period } = scope;
  const from = period.start.toJSDate();
  const end = period.end.toJSDate();
  const until = new Date(Math.min(end.getTime(), scope.until.getTime()));
  // UTC months start on a UTC day: the aggregates always apply.
  if (!dayAligned(from)) throw new Error(`period ${period.key} does not start on a UTC day`);
  const minimum = minimumChargeAmount(prices.currency);
  const accounts = [account];
  // A month not begun yet: an empty window (a range cannot end before it starts).
  const empty = until <= from;
  const to = empty ? from : until;
  const window = [from, to, accounts];
  // A month after the current one is an empty draft: late usage, and the carried
  // totals and credit that ride with it, go on the current month's draft only.
  const future = from > scope.until;
  const previous = future ? undefined : scope.previous;
  const before = previous && { from: previous.period.start.toJSDate(), to: previous.period.end.toJSDate() };
  // Lots alive when the month before is settled: it may use one that expires before this month is (lotsAliveAt below).
  const lotsAt = previous ? new Date(Math.min(previous.creditAt.getTime(), scope.creditAt.getTime())) : scope.creditAt;
  const composed = composeJson({
    lines: { sql: ACCOUNT_LINES, params: [from, to, account] },
    ...(scope.projection ? { projected: { sql: ACCOUNT_LINES, params: [from, end, account] } } : {}),
    ...(scope.days ? { days: { sql: ACCOUNT_DAYS, params: [from, to, account] } } : {}),
    gaps: { sql: GAPS_SCOPED, params: window },
    unowned: { sql: UNOWNED_SCOPED, params: window },
    ...(future ? {} : { late: { sql: LATE_CANDIDATES_SCOPED, params: [from, accounts, LATE_MARGIN_INTERVAL] } }),
    lots: { sql: CREDIT_LOTS, params: [accounts, lotsAt] },
    small: { sql: SMALL_INVOICES, params: [accounts, minimum] },
    ...(previous && before
      ? { previous: { sql: PREVIOUS_MONTH, params: [invoiceId(account, previous.period.key), account, before.from, before.to] } }
      : {}),
  });
  const { rows } = await db.query<{
    lines: LineRow[];
    projected?: LineRow[];
    days?: { day: number; product: string; ms: string }[];
    gaps: JsonGapRow[];
    unowned: UnownedRow[];
    late?: LateCandidate[];
    lots: JsonLotRow[];
    small: SmallRow[];
    previous?: { invoiced: boolean; owned: boolean; used: boolean }[];
  }>(composed);
  const r = rows[0]!;
  const gaps = r.gaps.map((g) => ({ ...g, unreliable_from: g.unreliable_from === null ? null : new Date(g.unreliable_from) }));
  const lots = r.lots.map((l) => ({ ...l, expires_at: l.expires_at === null ? null : new Date(l.expires_at), at: new Date(l.at) }));
  const unbilled =
    previous && before && r.previous?.[0]?.invoiced === false
      ? { ...previous, ...before, read: r.previous[0].used || (r.previous[0].owned && (r.late?.length ?? 0) > 0) }
      : undefined;
  const [adjustments, earlier] = await Promise.all([
    r.late?.length ? lateAdjustments(db, prices, r.late) : new Map<string, PricedLine[]>(),
    // The month before's usage and holds: one more statement, only while it has usage (or may hold adjustments) and no invoice.
    unbilled?.read ? previousMonth(db, account, unbilled) : { usage: [], holds: [] },
  ]);
  let riding: RidingFacts = {
    adjustments: adjustments.get(account) ?? [],
    lots: lotsOfRows(lots).get(account) ?? [],
    small: smallOfRows(r.small).get(account) ?? [],
  };
  const terms = { period, prices, minimum };
  if (unbilled) {
    const draftBefore = assembleDraft({ account, ...earlier, ...riding }, { ...terms, period: unbilled.period });
    riding = afterPrevious(draftBefore, riding, { minimum, settledAt: unbilled.creditAt });
  }
  const facts = {
    account,
    ...riding,
    // Read as of the month before's settling: this month's settling leaves out what expired by then.
    lots: lotsAliveAt(riding.lots, scope.creditAt),
    // The rows name the account they hold; a draft's holds do not.
    holds: holdsOfRows(gaps, r.unowned, accounts).map(({ account_id: _, ...hold }) => hold),
  };
  const view: AccountView = { draft: assembleDraft({ ...facts, usage: usageOfRows(r.lines) }, terms) };
  if (r.projected) view.projection = assembleDraft({ ...facts, usage: usageOfRows(r.projected) }, terms);
  if (r.days) view.days = daysOfRows(r.days);
  return view;
}

/** The usage and holds of the month before, as finalize will read them (the same statements, scoped to the account). */
async function previousMonth(db: pg.Pool | pg.PoolClient, account: string, month: { from: Date; to: Date }) {
  const window = [month.from, month.to, [account]];
  const { rows } = await db.query<{ lines: LineRow[]; gaps: JsonGapRow[]; unowned: UnownedRow[] }>(
    composeJson({
      lines: { sql: ACCOUNT_LINES, params: [month.from, month.to, account] },
      gaps: { sql: GAPS_SCOPED, params: window },
      unowned: { sql: UNOWNED_SCOPED, params: window },
    }),
  );
  const r = rows[0]!;
  const gaps = r.gaps.map((g) => ({ ...g, unreliable_from: g.unreliable_from === null ? null : new Date(g.unreliable_from) }));
  return {
    usage: usageOfRows(r.lines),
    holds: holdsOfRows(gaps, r.unowned, [account]).map(({ account_id: _, ...hold }) => hold),
  };
}

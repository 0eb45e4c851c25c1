// One account's current usage in one round trip (issue 19): its usage from
// the aggregates (account-usage.ts) for the draft and, when asked, the
// projection and the days of the chart; its holds, late-usage candidates and
// credit, each by the same statement computeDrafts runs for a few accounts,
// composed into one (compose-sql.ts). Only late usage, when there is some,
// costs more round trips. The drafts come from assembleDraft, as everywhere.
import type pg from 'pg';
import type { PriceBook } from '@vault/contracts';
import { minimumChargeAmount } from '../charging/amount.ts';
import { assembleDraft } from '../domain/draft.ts';
import type { DraftInvoice } from '../domain/invoice.ts';
import type { Period } from '../domain/period.ts';
import type { UsageKind } from '../domain/usage.ts';
import { ACCOUNT_DAYS, ACCOUNT_LINES, dayAligned, daysOfRows, usageOfRows } from './account-usage.ts';
import { composeJson } from './compose-sql.ts';
import { CREDIT_LOTS, lotsOfRows, type LotRow, SMALL_INVOICES, smallOfRows, type SmallRow } from './credit-store.ts';
import { GAPS_SCOPED, type GapRow, holdsOfRows, UNOWNED_SCOPED, type UnownedRow } from './holds.ts';
import { LATE_CANDIDATES_SCOPED, lateAdjustments, type LateCandidate } from './late-usage.ts';
import { LATE_MARGIN_INTERVAL } from './sql.ts';

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
}

export interface AccountView {
  draft: DraftInvoice;
  projection?: DraftInvoice;
  days?: { day: number; product: string; ms: number }[];
}

type LineRow = { app_id: string; kind: UsageKind; key: string; product: string; ms: string };
type JsonGapRow = Omit<GapRow, 'unreliable_from'> & { unreliable_from: string | null };
type JsonLotRow = Omit<LotRow, 'expires_at' | 'at'> & { expires_at: string | null; at: string };

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
  const composed = composeJson({
    lines: { sql: ACCOUNT_LINES, params: [from, to, account] },
    ...(scope.projection ? { projected: { sql: ACCOUNT_LINES, params: [from, end, account] } } : {}),
    ...(scope.days ? { days: { sql: ACCOUNT_DAYS, params: [from, to, account] } } : {}),
    gaps: { sql: GAPS_SCOPED, params: window },
    unowned: { sql: UNOWNED_SCOPED, params: window },
    ...(future ? {} : { late: { sql: LATE_CANDIDATES_SCOPED, params: [from, accounts, LATE_MARGIN_INTERVAL] } }),
    lots: { sql: CREDIT_LOTS, params: [accounts, scope.creditAt] },
    small: { sql: SMALL_INVOICES, params: [accounts, minimum] },
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
  }>(composed);
  const r = rows[0]!;
  const gaps = r.gaps.map((g) => ({ ...g, unreliable_from: g.unreliable_from === null ? null : new Date(g.unreliable_from) }));
  const lots = r.lots.map((l) => ({ ...l, expires_at: l.expires_at === null ? null : new Date(l.expires_at), at: new Date(l.at) }));
  const adjustments = r.late?.length ? await lateAdjustments(db, prices, r.late) : new Map();
  const facts = {
    account,
    adjustments: adjustments.get(account) ?? [],
    // The rows name the account they hold; a draft's holds do not.
    holds: holdsOfRows(gaps, r.unowned, accounts).map(({ account_id: _, ...hold }) => hold),
    lots: lotsOfRows(lots).get(account) ?? [],
    small: smallOfRows(r.small).get(account) ?? [],
  };
  const terms = { period, prices, minimum };
  const view: AccountView = { draft: assembleDraft({ ...facts, usage: usageOfRows(r.lines) }, terms) };
  if (r.projected) view.projection = assembleDraft({ ...facts, usage: usageOfRows(r.projected) }, terms);
  if (r.days) view.days = daysOfRows(r.days);
  return view;
}

import type pg from 'pg';
import type { Hold, PriceBook } from '@vault/contracts';
import { minimumChargeAmount } from '../charging/amount.ts';
import { carriedLine, carriesInto, type CreditLot, type SmallInvoice } from '../domain/credit.ts';
import { draftInvoice, unpricedHolds, type DraftInvoice } from '../domain/invoice.ts';
import { adjustmentLines, chargedSoFar, priceLines, type PricedLine } from '../domain/lines.ts';
import { parsePeriod, type Period } from '../domain/period.ts';
import { readHolds } from './holds.ts';
import { creditLots, smallInvoices } from './credit-store.ts';
import { chargedLines, finalizedAccounts, lateCandidates } from './invoice-store.ts';
import { readLineUsage } from './line-usage.ts';
import { LATE_MARGIN_INTERVAL } from './sql.ts';

export interface DraftScope {
  period: Period;
  /** Usage counts up to this instant (open intervals too), at most to the period's end. */
  until: Date;
  /** Only these accounts; every account with usage or adjustments when omitted. */
  accounts?: readonly string[];
  /**
   * Leave out accounts whose invoice for the period is already finalized. The
   * usage query leaves them out itself, so a month the schedule finalizes again
   * stays cheap; their holds and adjustments are dropped here.
   */
  unfinalizedOnly?: boolean;
  /** Add late-usage adjustments for earlier finalized months (not needed for the holds report). */
  adjustments?: boolean;
  /**
   * Settle each draft with the account's credit balance as of this instant,
   * and carry small totals of earlier invoices onto it (not needed for holds).
   */
  creditAt?: Date;
}

/**
 * Draft invoices for a month: usage summed per line key in SQL, priced by the
 * rating domain, plus adjustment lines for late usage of earlier finalized
 * months, with the holds that keep each from being finalized.
 */
export async function computeDrafts(
  db: pg.Pool | pg.PoolClient,
  prices: PriceBook,
  scope: DraftScope,
): Promise<{ drafts: Map<string, DraftInvoice>; ownerless: Hold[]; finalized: Set<string> }> {
  const { period, accounts: only } = scope;
  const window = { from: period.start.toJSDate(), to: new Date(Math.min(period.end.toMillis(), scope.until.getTime())) };
  const usage = await readLineUsage(db, { ...window, accounts: only, unfinalizedOf: scope.unfinalizedOnly ? period.key : undefined });
  const holds = await readHolds(db, { ...window, accounts: only });
  const adjustments = scope.adjustments ? await lateAdjustments(db, prices, period, only) : new Map<string, PricedLine[]>();

  const finalized = scope.unfinalizedOnly ? await finalizedAccounts(db, period.key) : new Set<string>();
  const minimum = minimumChargeAmount(prices.currency);
  const [lots, small] = scope.creditAt
    ? await Promise.all([creditLots(db, only, scope.creditAt), smallInvoices(db, only, minimum)])
    : [new Map<string, CreditLot[]>(), new Map<string, SmallInvoice[]>()];
  const holdsOf = new Map<string, Hold[]>();
  // Usage on an app no account owned holds the month but is billed to no one.
  const ownerless: Hold[] = [];
  for (const { account_id, ...hold } of holds) {
    if (account_id === null) ownerless.push(hold);
    else holdsOf.set(account_id, [...(holdsOf.get(account_id) ?? []), hold]);
  }
  // A held account may have nothing to bill (its app's usage was all unowned) and still be listed.
  const accounts = new Set([...usage.keys(), ...adjustments.keys(), ...holdsOf.keys(), ...(only ?? [])]);
  const drafts = new Map<string, DraftInvoice>();
  for (const account of accounts) {
    if (finalized.has(account)) continue;
    const lines = [...priceLines(usage.get(account) ?? [], period, prices), ...(adjustments.get(account) ?? [])];
    // A small total rides along with an invoice the account gets anyway; it never makes one on its own.
    const carried = lines.length === 0 ? [] : (small.get(account) ?? []).filter((x) => carriesInto(x, period));
    lines.push(...carried.map((x) => carriedLine(x, minimum, prices.currency)));
    const holds = [...(holdsOf.get(account) ?? []), ...unpricedHolds(lines)];
    drafts.set(account, draftInvoice(account, period, prices.currency, lines, holds, lots.get(account) ?? []));
  }
  return { drafts, ownerless, finalized };
}

/**
 * For each account, the adjustment lines its next invoice (in `period`) gets:
 * per earlier finalized month with late usage, what the month would charge
 * now minus what it charged (its invoice plus earlier adjustments).
 */
async function lateAdjustments(
  db: pg.Pool | pg.PoolClient,
  prices: PriceBook,
  period: Period,
  accounts: readonly string[] | undefined,
): Promise<Map<string, PricedLine[]>> {
  const candidates = await lateCandidates(db, period.start.toJSDate(), accounts, LATE_MARGIN_INTERVAL);
  const byMonth = new Map<string, string[]>();
  for (const c of candidates) byMonth.set(c.period, [...(byMonth.get(c.period) ?? []), c.account_id]);
  const out = new Map<string, PricedLine[]>();
  for (const [key, monthAccounts] of byMonth) {
    const month = parsePeriod(key);
    const [now, charged] = await Promise.all([
      readLineUsage(db, { from: month.start.toJSDate(), to: month.end.toJSDate(), accounts: monthAccounts }),
      chargedLines(db, key, monthAccounts),
    ]);
    for (const account of monthAccounts) {
      const lines = adjustmentLines(chargedSoFar(charged.get(account) ?? []), priceLines(now.get(account) ?? [], month, prices), month);
      if (lines.length > 0) out.set(account, [...(out.get(account) ?? []), ...lines]);
    }
  }
  return out;
}

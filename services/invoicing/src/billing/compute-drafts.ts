import type pg from 'pg';
import type { Hold, PriceBook } from '@vault/contracts';
import { minimumChargeAmount } from '../charging/amount.ts';
import type { CreditLot, SmallInvoice } from '../domain/credit.ts';
import { assembleDraft } from '../domain/draft.ts';
import type { DraftInvoice } from '../domain/invoice.ts';
import type { PricedLine } from '../domain/lines.ts';
import type { Period } from '../domain/period.ts';
import { readHolds } from './holds.ts';
import { creditLots, smallInvoices } from './credit-store.ts';
import { finalizedAccounts } from './invoice-store.ts';
import { lateAdjustments, lateCandidates } from './late-usage.ts';
import { readLineUsage } from './line-usage.ts';
import { LATE_MARGIN_INTERVAL } from './sql.ts';
import { appendTo } from '../domain/group.ts';

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
  /** Add late-usage adjustments for earlier finalized months (an unpriced one holds the draft). */
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
 * months, with the holds that keep each from being finalized. What the drafts
 * API and the holds report run, all in memory; finalize streams the same
 * statements in account order instead (finalize-stream.ts) and builds each
 * draft with the same assembleDraft.
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
  const adjustments = scope.adjustments
    ? await lateAdjustments(db, prices, await lateCandidates(db, period.start.toJSDate(), only, LATE_MARGIN_INTERVAL))
    : new Map<string, PricedLine[]>();

  const finalized = scope.unfinalizedOnly ? await finalizedAccounts(db, period.key, only) : new Set<string>();
  const minimum = minimumChargeAmount(prices.currency);
  const [lots, small] = scope.creditAt
    ? await Promise.all([creditLots(db, only, scope.creditAt), smallInvoices(db, only, minimum)])
    : [new Map<string, CreditLot[]>(), new Map<string, SmallInvoice[]>()];
  const holdsOf = new Map<string, Hold[]>();
  // Usage on an app no account owned holds the month but is billed to no one.
  const ownerless: Hold[] = [];
  for (const { account_id, ...hold } of holds) {
    if (account_id === null) ownerless.push(hold);
    else appendTo(holdsOf, account_id, hold);
  }
  // A held account may have nothing to bill (its app's usage was all unowned) and still be listed.
  const accounts = new Set([...usage.keys(), ...adjustments.keys(), ...holdsOf.keys(), ...(only ?? [])]);
  const drafts = new Map<string, DraftInvoice>();
  const terms = { period, prices, minimum };
  for (const account of accounts) {
    if (finalized.has(account)) continue;
    const facts = {
      account,
      usage: usage.get(account) ?? [],
      adjustments: adjustments.get(account) ?? [],
      holds: holdsOf.get(account) ?? [],
      lots: lots.get(account) ?? [],
      small: small.get(account) ?? [],
    };
    drafts.set(account, assembleDraft(facts, terms));
  }
  return { drafts, ownerless, finalized };
}

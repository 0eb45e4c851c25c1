// Credits (docs/contracts/invoicing.md, Credits), pure: what an account's credit balance
// pays of an invoice, which lots it draws on, what a negative subtotal leaves,
// and the line that carries a total too small to charge onto a later invoice.
import type { Decimal } from 'decimal.js';
import { Money } from './money.ts';
import type { PricedLine } from './lines.ts';
import type { Period } from './period.ts';

/** What is left of one grant or invoice remainder, as of the settlement. */
export interface CreditLot {
  id: string;
  /** Decimal string, > 0. */
  remaining: string;
  /** Null: never expires. */
  expiresAt: Date | null;
  /** When it was granted or left; the tie-breaker after the expiry. */
  at: Date;
}

export interface Settlement {
  /** The sum of the lines. */
  subtotal: string;
  creditApplied: string;
  /** subtotal − creditApplied, never below 0.00. */
  total: string;
  /** What a negative subtotal leaves to the balance (0.00 otherwise). */
  remainder: string;
  /** The lots drawn on, each with the (positive) amount taken from it. */
  uses: { lotId: string; amount: string }[];
}

/** Lots in the order the balance is used: the one that expires first first, never-expiring last, then oldest. */
export function lotsInUseOrder<T extends CreditLot>(lots: readonly T[]): T[] {
  const expiry = (l: CreditLot) => l.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  return [...lots].sort((a, b) => expiry(a) - expiry(b) || a.at.getTime() - b.at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Applies the balance to an invoice's subtotal: as much of it as the lots
 * cover, the lot that expires first used first. A negative subtotal takes
 * no credit: its total is 0.00 and its absolute value is the remainder.
 */
export function settle(subtotal: string, lots: readonly CreditLot[]): Settlement {
  const sub = new Money(subtotal);
  if (sub.lte(0)) {
    return { subtotal: sub.toFixed(2), creditApplied: '0.00', total: '0.00', remainder: sub.neg().toFixed(2), uses: [] };
  }
  let due = sub;
  const uses: Settlement['uses'] = [];
  for (const lot of lotsInUseOrder(lots)) {
    if (due.isZero()) break;
    const take = Money.min(due, lot.remaining);
    if (take.lte(0)) continue;
    uses.push({ lotId: lot.id, amount: take.toFixed(2) });
    due = due.minus(take);
  }
  return { subtotal: sub.toFixed(2), creditApplied: sub.minus(due).toFixed(2), total: due.toFixed(2), remainder: '0.00', uses };
}

/** The balance the lots make: the sum of what is left of each. */
export function balanceOf(lots: readonly CreditLot[]): string {
  return lots.reduce((sum, l) => sum.plus(l.remaining), new Money(0)).toFixed(2);
}

/** The lots left once `uses` (a settlement's) drew on them: each less what it took, emptied ones left out. */
export function lotsAfter<T extends CreditLot>(lots: readonly T[], uses: Settlement['uses']): T[] {
  const taken = new Map<string, Decimal>();
  for (const u of uses) taken.set(u.lotId, (taken.get(u.lotId) ?? new Money(0)).plus(u.amount));
  return lots.flatMap((l) => {
    const left = new Money(l.remaining).minus(taken.get(l.id) ?? 0);
    return left.gt(0) ? [{ ...l, remaining: left.toFixed(2) }] : [];
  });
}

/** The lots a settlement at `at` may draw on: one whose expiry is at or before it was written off first (CREDIT_LOTS' condition). */
export const lotsAliveAt = <T extends CreditLot>(lots: readonly T[], at: Date): T[] =>
  lots.filter((l) => l.expiresAt === null || l.expiresAt.getTime() > at.getTime());

/**
 * The lot a negative subtotal leaves, as finalize records it (an
 * `invoice_remainder` entry): its absolute value, never expiring, dated at the
 * run that settled the invoice.
 */
export function remainderLot(id: string, subtotal: string, at: Date): CreditLot {
  return { id, remaining: new Money(subtotal).neg().toFixed(2), expiresAt: null, at };
}

/** A finalized invoice whose total is above zero and below the gateway's minimum: not charged, carried. */
export interface SmallInvoice {
  /** Null for a month whose invoice is still a draft (finalized first, it is carried): it has no number yet. */
  number: string | null;
  period: string;
  total: string;
}

/** True when `total` is owed but the gateway would refuse to charge it (below `minimum`, a decimal string). */
export function isBelowMinimum(total: string, minimum: string): boolean {
  const t = new Money(total);
  return t.gt(0) && t.lt(minimum);
}

/**
 * The line that carries a small invoice's total onto a later invoice, named
 * after the month it comes from; its key is the invoice's number, so it is
 * carried once.
 */
export function carriedLine(small: SmallInvoice, minimum: string, currency: string): PricedLine {
  // A draft's month has no number yet: its key is the month until it is finalized (only a draft shows it).
  const invoice = small.number === null ? 'not finalized yet' : `invoice ${small.number}`;
  return {
    app_id: '',
    kind: 'carried',
    key: small.number ?? small.period,
    product: 'carried',
    quantity: '1.0000000',
    unit_price: small.total,
    amount: small.total,
    description: `Carried from ${small.period} (${invoice}): ${small.total} ${currency} is below the smallest charge of ${minimum} ${currency}`,
    adjusts: small.period,
    ms: 0,
  };
}

/** Whether a carried line may join an invoice for `period`: only a later month's invoice carries. */
export const carriesInto = (small: SmallInvoice, period: Period) => small.period < period.key;

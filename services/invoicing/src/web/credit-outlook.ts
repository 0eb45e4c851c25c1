// What the invoice list tells of the credit balance: the part of it the
// invoice finalized next can still use (this month's, or in the grace period
// last month's: next-invoice.ts), and when credit expires. Finalize writes off
// every lot expired by its run, and a month is finalized no earlier than its
// due time (its end plus INVOICE_GRACE_HOURS, `dueAt`, the instant its draft
// settles its credit at: service.ts's `creditAtOf`), so a lot that expires
// before then never pays that invoice.
import type { Decimal } from 'decimal.js';
import { balanceOf, type CreditLot } from '../domain/credit.ts';
import { dueAt } from '../domain/invoice.ts';
import { Money } from '../domain/money.ts';
import { parsePeriod } from '../domain/period.ts';

/** An amount of the balance and when it expires. */
export interface Expiring {
  amount: string;
  expiresAt: Date;
}

export interface CreditOutlook {
  /** The month whose invoice is finalized next ("2026-11") and its due time. */
  period: string;
  due: Date;
  /** What of the balance is left at the due time, to pay that invoice and the next ones. */
  lasting: string;
  /** The lasting credit that expires later, by expiry day, soonest first. */
  lastingExpiries: Expiring[];
  /** The credit that expires before the due time, by expiry day, soonest first: it pays no invoice. */
  expiring: Expiring[];
}

/** Amounts by expiry instant, soonest first; lots that never expire are left out. */
function byExpiry(lots: readonly CreditLot[]): Expiring[] {
  const sums = new Map<number, Decimal>();
  for (const l of lots) {
    if (l.expiresAt === null) continue;
    const at = l.expiresAt.getTime();
    sums.set(at, (sums.get(at) ?? new Money(0)).plus(l.remaining));
  }
  return [...sums].sort(([a], [b]) => a - b).map(([at, sum]) => ({ amount: sum.toFixed(2), expiresAt: new Date(at) }));
}

/** The balance's lots (billing's `balanceLots`) as the invoice of `period`, due after its grace, will see them. */
export function creditOutlook(lots: readonly CreditLot[], period: string, graceHours: number): CreditOutlook {
  const due = dueAt(parsePeriod(period), graceHours).toJSDate();
  const lasting = lots.filter((l) => l.expiresAt === null || l.expiresAt > due);
  const expiring = lots.filter((l) => l.expiresAt !== null && l.expiresAt <= due);
  return { period, due, lasting: balanceOf(lasting), lastingExpiries: byExpiry(lasting), expiring: byExpiry(expiring) };
}

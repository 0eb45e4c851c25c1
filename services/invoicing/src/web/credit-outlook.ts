// What the invoice list tells of the credit balance: the part of it the
// current month's invoice can still use, and when credit expires. Finalize
// writes off every lot expired by its run, and the current month is finalized
// no earlier than its due time (its end plus INVOICE_GRACE_HOURS, `dueAt`, the
// instant its draft settles its credit at: service.ts's `creditAtOf`), so a lot
// that expires before then never pays that invoice.
import type { Decimal } from 'decimal.js';
import type pg from 'pg';
import type { CreditBalance } from '@vault/contracts';
import { creditLots } from '../billing/credit-store.ts';
import { balanceOf } from '../domain/credit.ts';
import { dueAt } from '../domain/invoice.ts';
import { Money } from '../domain/money.ts';
import { parsePeriod } from '../domain/period.ts';

/** An amount of the balance and when it expires (undefined: some time before the month's due time). */
export interface Expiring {
  amount: string;
  expiresAt: Date | undefined;
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

/** Lots with credit left that expire by $2, written off or not, latest first. */
const EXPIRING_BY = `
  select remaining::text, expires_at from invoicing.credit_lots
   where account_id = $1 and remaining > 0 and expires_at <= $2
   order by expires_at desc`;

/** Amounts by expiry instant, soonest first. */
function byExpiry(lots: readonly { remaining: string; expiresAt: Date }[]): Expiring[] {
  const sums = new Map<number, Decimal>();
  for (const l of lots) sums.set(l.expiresAt.getTime(), (sums.get(l.expiresAt.getTime()) ?? new Money(0)).plus(l.remaining));
  return [...sums].sort(([a], [b]) => a - b).map(([at, sum]) => ({ amount: sum.toFixed(2), expiresAt: new Date(at) }));
}

/**
 * The balance (billing's, as of its clock) as the current month's invoice will see it. The lots
 * left at the due time are read as the draft reads them (`creditLots` at that instant); the rest
 * of the balance expires before it. The pages have no billing clock to read the balance's own
 * lots with, so the days of that rest are the latest expiries up to the due time that make it
 * up exactly (the balance holds the lots not expired yet: the latest); else no day is named.
 */
export async function creditOutlook(pool: pg.Pool, balance: CreditBalance, period: string, graceHours: number): Promise<CreditOutlook> {
  const due = dueAt(parsePeriod(period), graceHours).toJSDate();
  const [lots, early] = await Promise.all([
    creditLots(pool, [balance.account_id], due),
    pool.query<{ remaining: string; expires_at: Date }>(EXPIRING_BY, [balance.account_id, due]),
  ]);
  const left = lots.get(balance.account_id) ?? [];
  const lasting = Money.min(balance.credit, balanceOf(left));
  const rest = new Money(balance.credit).minus(lasting);
  const lastingExpiries = byExpiry(left.flatMap((l) => (l.expiresAt ? [{ remaining: l.remaining, expiresAt: l.expiresAt }] : [])));
  let expiring: Expiring[] = [];
  if (rest.gt(0)) {
    const taken: { remaining: string; expiresAt: Date }[] = [];
    let sum = new Money(0);
    for (const r of early.rows) {
      // Lots expiring at one instant are all in the balance or none.
      if (sum.gte(rest) && r.expires_at.getTime() !== taken.at(-1)?.expiresAt.getTime()) break;
      taken.push({ remaining: r.remaining, expiresAt: r.expires_at });
      sum = sum.plus(r.remaining);
    }
    expiring = sum.eq(rest) ? byExpiry(taken) : [{ amount: rest.toFixed(2), expiresAt: undefined }];
  }
  return { period, due, lasting: lasting.toFixed(2), lastingExpiries, expiring };
}

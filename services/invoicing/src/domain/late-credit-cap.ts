// A late credit never pays back money already given back (docs/contracts/invoicing.md,
// "Late credits after a refund or chargeback"): a month refunded or charged back, then
// found to have used less, used to be credited in full on the next invoice as well, so
// the customer got back more than the month charged (25.00 paid, 25.00 refunded, then
// "Credit for 2026-10: −24.17"). Pure: the caller reads the month's figures.
import { Money, toQuantity } from './money.ts';
import type { PricedLine } from './lines.ts';
import { parsePeriod } from './period.ts';

/** What a month's invoices did with its money, amounts as "0.00" strings. */
export interface MonthMoney {
  /** What the month charged so far: its invoice's usage lines plus every adjustment to it on later invoices. */
  charged: string;
  /** Given back by refunds of the month's invoice. */
  refunded: string;
  /** Withdrawn by chargebacks of the month's invoice and not reinstated: lost, or still open (a won one is reinstated). */
  disputed: string;
}

/**
 * The month's late adjustment lines with its credits capped at what the month
 * still keeps: what it charged (this run's late charges included, which are
 * never capped) less what was refunded and charged back, never below zero.
 * Credits take that room in line order; the one that crosses it is cut to what
 * is left and says so, the ones after it are left out. What is cut is not lost:
 * the month still charges more than its usage prices at now, so a later
 * recomputation (a chargeback won reinstates its funds and makes the month a
 * late candidate again) gives it, within the room then. A month never refunded
 * nor charged back is never capped: a recomputation never credits more than
 * the lines it charged. Unpriced lines (no amount) pass as they are.
 */
export function capLateCredits(lines: readonly PricedLine[], month: string, money: MonthMoney): PricedLine[] {
  const givenBack = new Money(money.refunded).plus(money.disputed);
  if (givenBack.isZero()) return [...lines];
  const charges = lines.reduce((sum, l) => (l.amount !== null && new Money(l.amount).gt(0) ? sum.plus(l.amount) : sum), new Money(0));
  const keeps = new Money(money.charged).plus(charges).minus(givenBack);
  let room = Money.max(keeps, 0);
  const out: PricedLine[] = [];
  for (const l of lines) {
    if (l.amount === null || !new Money(l.amount).isNegative()) {
      out.push(l);
      continue;
    }
    const credit = new Money(l.amount).negated();
    const given = Money.min(credit, room);
    room = room.minus(given);
    if (given.equals(credit)) out.push(l);
    else if (given.gt(0))
      out.push({ ...cut(l, given, credit, month), description: `${l.description} (${cappedWhy(credit, given, month, money)})` });
  }
  return out;
}

/**
 * A credit line of `credit` given only `given` of it. Its quantity is that share of its
 * months, so quantity × unit price stays within a cent of the amount (Rating: it kept the whole
 * line's, -0.9677419 × 25.00 beside -15.00). Its `ms` leaves out the months not given, so the month
 * counted with it (chargedSoFar) bills what it now charges and the rest, given by a later
 * recomputation, shows the months it gives (it showed 0.0000000 × 25.00 beside -9.19). Only the
 * billable months are scaled, not the raw ms: a line past the one-month cap is not linear in them.
 */
function cut(l: PricedLine, given: InstanceType<typeof Money>, credit: InstanceType<typeof Money>, month: string): PricedLine {
  const months = new Money(l.quantity);
  const quantity = toQuantity(months.times(given).div(credit));
  const notGiven = months.minus(quantity).times(parsePeriod(month).seconds * 1000);
  return { ...l, amount: given.negated().toFixed(2), quantity, ms: Math.round(l.ms - notGiven.toNumber()) };
}

/** Why a credit line is cut: "24.17 capped to 15.00: 2026-10 keeps 15.00 after 10.00 refunded". */
function cappedWhy(credit: InstanceType<typeof Money>, given: InstanceType<typeof Money>, month: string, money: MonthMoney): string {
  const back = [
    ...(new Money(money.refunded).gt(0) ? [`${money.refunded} refunded`] : []),
    ...(new Money(money.disputed).gt(0) ? [`${money.disputed} charged back (given if the chargeback is won)`] : []),
  ];
  return `${credit.toFixed(2)} capped to ${given.toFixed(2)}: ${month} was paid back ${back.join(' and ')}`;
}

import { Decimal } from 'decimal.js';

/**
 * Exact decimal arithmetic for money and quantities. Its own clone, so no
 * other code's Decimal settings can change ours; 40 significant digits hold
 * any seconds-over-month ratio without loss before the one rounding.
 */
export const Money = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_UP });

/** Rounded once, half up, to cents: "25.00". */
export function toCents(amount: Decimal): string {
  return amount.toDecimalPlaces(2, Decimal.ROUND_HALF_UP).toFixed(2);
}

/**
 * Exact amounts (a month's days) in cents that add up to the cents of their
 * exact sum: each is the rounded running sum less the one before it, so the
 * total is rounded once and no part is off by a cent or more. Rounding each
 * part alone drifts: 30 days of 7.00 ÷ 30 would show 0.23 each, 6.90 in all.
 */
export function partsInCents(amounts: readonly Decimal[]): string[] {
  let sum = new Decimal(0);
  let shown = new Decimal(0);
  return amounts.map((a) => {
    sum = sum.plus(a);
    const upTo = sum.toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
    const part = upTo.minus(shown);
    shown = upTo;
    return part.toFixed(2);
  });
}

/** Months shown with 7 decimals, as on the platform's invoices: "0.3225806". */
export function toQuantity(months: Decimal): string {
  return months.toDecimalPlaces(7, Decimal.ROUND_HALF_UP).toFixed(7);
}

/**
 * Months of usage: its seconds over the month's real length, exact. One
 * division by the month's milliseconds: the same quotient as seconds over
 * the month's seconds (ms / 1000 is exact), rounded once to 40 digits as before.
 */
export function monthsOf(ms: number, monthSeconds: number): Decimal {
  return new Money(ms).div(monthSeconds * 1000);
}

/**
 * A monthly price times months of usage, exact before the one rounding: the
 * price is multiplied first and the month's length divided last. Dividing
 * first cut an endless quotient (1/1800 of a month) to 40 digits, and an amount
 * of exactly half a cent (3.00 × 49,104,000 ms of October = 0.055) came out as
 * 0.05499…9 and was rounded down. Uncapped (the usage chart's days).
 */
export function priceShare(ms: number, monthSeconds: number, price: string | Decimal): Decimal {
  return new Money(ms).times(price).div(monthSeconds * 1000);
}

/** A line's amount before its rounding: the price times min(months, 1) (the price caps a line). */
export function usageAmount(ms: number, monthSeconds: number, price: string | Decimal): Decimal {
  return priceShare(Math.min(ms, monthSeconds * 1000), monthSeconds, price);
}

// A month's line amounts are a few hundred distinct strings repeated across
// every invoice (pricing remembers them): each is parsed once and the Decimal
// reused (Decimals are immutable). Bounded: cleared when full.
const PARSED_MAX = 100_000;
const parsed = new Map<string, Decimal>();

function parse(amount: string): Decimal {
  let d = parsed.get(amount);
  if (d === undefined) {
    d = new Money(amount);
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(amount, d);
  }
  return d;
}

export function sumCents(amounts: readonly string[]): string {
  let sum = new Money(0);
  for (const a of amounts) sum = sum.plus(parse(a));
  return sum.toFixed(2);
}

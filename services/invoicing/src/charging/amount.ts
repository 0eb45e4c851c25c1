import { minimumChargeOf } from '@vault/gateway/charge-minimums';
import { Decimal } from 'decimal.js';

// Currencies the gateway counts in whole units (Stripe's zero-decimal list);
// THREE_DECIMAL below those counted in thousandths: invoicing bills only in the rest (hasCents).
const ZERO_DECIMAL = new Set([
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'JPY',
  'KMF',
  'KRW',
  'MGA',
  'PYG',
  'RWF',
  'UGX',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
]);

// Currencies whose minor unit is a thousandth (Stripe's three-decimal list), and ISK, which
// Stripe takes with two decimals only when they are zero.
const THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);
const WHOLE_UNITS_ONLY = new Set(['ISK']);

/** Whether amounts in `currency` have exactly two decimals, as every amount invoicing computes does. */
export function hasCents(currency: string): boolean {
  const code = currency.toUpperCase();
  return !ZERO_DECIMAL.has(code) && !THREE_DECIMAL.has(code) && !WHOLE_UNITS_ONLY.has(code);
}

/**
 * An invoice total ("52.58" USD) as the gateway's integer amount in the
 * currency's minor unit (5258). A total with more decimals than the currency
 * has is refused rather than rounded: a finalized total is already rounded once.
 */
export function minorUnits(total: string, currency: string): number {
  const exponent = ZERO_DECIMAL.has(currency.toUpperCase()) ? 0 : 2;
  const minor = new Decimal(total).times(new Decimal(10).pow(exponent));
  if (!minor.isInteger()) throw new RangeError(`total ${total} ${currency} has more than ${exponent} decimals`);
  if (minor.abs().greaterThan(Number.MAX_SAFE_INTEGER)) throw new RangeError(`total ${total} ${currency} is too large`);
  return minor.toNumber();
}

/** Whether the gateway states a smallest charge in `currency`: invoicing bills only in those (the price book's check). */
export function hasKnownMinimum(currency: string): boolean {
  return minimumChargeOf(currency) !== undefined;
}

/**
 * The smallest amount the gateway accepts in `currency`, in minor units: below
 * it a PaymentIntent is refused with amount_too_small, so such a total is never
 * sent. Never guessed: a currency without one is refused at boot (price book).
 */
export function minimumCharge(currency: string): number {
  const minimum = minimumChargeOf(currency);
  if (minimum === undefined) throw new RangeError(`the gateway states no minimum charge in ${currency}`);
  return minimum;
}

/** The gateway's smallest charge as an amount in the currency's units: "0.50" for USD. */
export function minimumChargeAmount(currency: string): string {
  const exponent = ZERO_DECIMAL.has(currency.toUpperCase()) ? 0 : 2;
  return new Decimal(minimumCharge(currency)).div(new Decimal(10).pow(exponent)).toFixed(2);
}

/** The gateway's integer amount (5258) as an amount in the currency's units ("52.58"). */
export function fromMinorUnits(minor: number, currency: string): string {
  const exponent = ZERO_DECIMAL.has(currency.toUpperCase()) ? 0 : 2;
  return new Decimal(minor).div(new Decimal(10).pow(exponent)).toFixed(2);
}

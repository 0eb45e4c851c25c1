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

/** The variable an operator declares the gateway's smallest charge in the price book's currency with. */
export const MINIMUM_CHARGE_VARIABLE = 'GATEWAY_MINIMUM_CHARGE';

/**
 * Smallest charges declared at boot (GATEWAY_MINIMUM_CHARGE), in minor units, by currency: set by the
 * price book's loader, the one place that knows the currency and the setting. Kept here rather than
 * passed along: decide, paymentState and the emails have only an invoice's or a notice's currency, and
 * one value read the same way by every caller cannot disagree between finalize and the charger.
 */
const declared = new Map<string, number>();

/**
 * Declares the gateway's smallest charge in `currency` (an amount with two decimals, "10.00"), or
 * forgets it (undefined). For a currency Stripe publishes none for, where its minimum is the settlement
 * currency's after conversion; for one it publishes, a higher one (an account settling in another currency).
 */
export function declareMinimumCharge(currency: string, amount: string | undefined): void {
  const code = currency.toUpperCase();
  if (amount === undefined) declared.delete(code);
  else declared.set(code, minorUnits(amount, code));
}

/**
 * The smallest amount the gateway accepts in `currency`, in minor units: below
 * it a PaymentIntent is refused with amount_too_small, so such a total is never
 * sent. Never guessed: a currency with neither a published nor a declared
 * minimum is refused at boot (price book), and throws here. Never below the
 * published one, whatever was declared.
 */
export function minimumCharge(currency: string): number {
  const published = minimumChargeOf(currency);
  const own = declared.get(currency.toUpperCase());
  if (published === undefined && own === undefined) {
    throw new RangeError(`the gateway publishes no minimum charge in ${currency} and ${MINIMUM_CHARGE_VARIABLE} declares none`);
  }
  return Math.max(published ?? 0, own ?? 0);
}

/** The gateway's smallest charge as an amount in the currency's units: "0.50" for USD. */
export function minimumChargeAmount(currency: string): string {
  return fromMinorUnits(minimumCharge(currency), currency);
}

/**
 * The gateway's integer amount (5258) as an amount in the currency's units ("52.58"), with two
 * decimals at least: thousandths for the currencies counted in them (2500 fils is "2.500" KWD, not
 * "25.00"), which a stray payment or a dispute may be in though invoicing never bills in them.
 */
export function fromMinorUnits(minor: number, currency: string): string {
  const code = currency.toUpperCase();
  const exponent = ZERO_DECIMAL.has(code) ? 0 : THREE_DECIMAL.has(code) ? 3 : 2;
  return new Decimal(minor).div(new Decimal(10).pow(exponent)).toFixed(Math.max(2, exponent));
}

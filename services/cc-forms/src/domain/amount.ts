// An amount the gateway gives in minor units, shown as the invoice pages show it.

/** Currencies without minor units (Stripe's list, those the Vault could meet). */
const ZERO_DECIMAL = new Set(['jpy', 'krw', 'vnd', 'clp', 'pyg', 'ugx', 'xaf', 'xof']);

/** "$52.58" from 5258 usd; "EUR 10.00" from 1000 eur; "JPY 500" from 500 jpy. Integers only: never a float. */
export function formatAmount(minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`not an amount in minor units: ${minor}`);
  const code = currency.toUpperCase();
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  const group = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const digits = ZERO_DECIMAL.has(currency.toLowerCase())
    ? group(abs)
    : `${group(Math.floor(abs / 100))}.${String(abs % 100).padStart(2, '0')}`;
  return code === 'USD' ? `${sign}$${digits}` : `${sign}${code} ${digits}`;
}

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { PriceBook } from '@vault/contracts';
import { CURRENCIES_WITH_MINIMUM, minimumChargeOf } from '@vault/gateway/charge-minimums';
import { declareMinimumCharge, fromMinorUnits, hasCents, MINIMUM_CHARGE_VARIABLE, minorUnits } from '../charging/amount.ts';

/** The price book the project ships (a copy of the platform spec's price-book.json). */
export const DEFAULT_PRICE_BOOK = fileURLToPath(new URL('../../data/price-book.json', import.meta.url));

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'a directory, not a file',
};

/** A price book that cannot be used: names the variable to change, PRICE_BOOK (the file) or GATEWAY_MINIMUM_CHARGE. */
export class PriceBookError extends Error {
  constructor(
    message: string,
    readonly variable: string = 'PRICE_BOOK',
  ) {
    super(message);
  }
}

/**
 * Reads and checks a price book file (`PRICE_BOOK`, else the default), then checks `minimumCharge`
 * (GATEWAY_MINIMUM_CHARGE as config parsed it) against its currency and declares the gateway's
 * smallest charge in it (declareMinimumCharge): every entry point loads the price book through here.
 */
export function loadPriceBook(path: string = DEFAULT_PRICE_BOOK, minimumCharge?: string): PriceBook {
  const prices = readPriceBook(path);
  declarePriceBookMinimum(prices, path, minimumCharge);
  return prices;
}

/** Reads and checks a price book file, declaring nothing; the error names the file and the field. */
export function readPriceBook(path: string = DEFAULT_PRICE_BOOK): PriceBook {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PriceBookError(`price book ${path}: ${READ_ERRORS[code ?? ''] ?? (err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new PriceBookError(`price book ${path}: not JSON (${(err as Error).message})`);
  }
  const parsed = PriceBook.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new PriceBookError(`price book ${path}: ${issues.join('; ')}`);
  }
  // Amounts are rounded to cents: a currency counted otherwise could never be charged (JPY 225.81).
  if (!hasCents(parsed.data.currency)) {
    throw new PriceBookError(
      `price book ${path}: currency: ${parsed.data.currency} does not count in hundredths; amounts are kept with two decimals (USD, EUR, GBP, …)`,
    );
  }
  return parsed.data;
}

/**
 * What is too small to charge comes from the gateway's minimum: guessed, a total below the real one
 * would be sent, refused as amount_too_small, retried to past_due, and the account suspended with a
 * good card. Stripe publishes it for some currencies; in the others it is the settlement currency's
 * minimum after conversion, which only the operator knows: GATEWAY_MINIMUM_CHARGE, then required.
 * With a published one it may only be higher (an account settling in another currency), never lower.
 */
export function declarePriceBookMinimum(prices: PriceBook, path: string, minimumCharge: string | undefined): void {
  const { currency } = prices;
  const published = minimumChargeOf(currency);
  if (published === undefined && minimumCharge === undefined) {
    const known = CURRENCIES_WITH_MINIMUM.filter(hasCents).sort().join(', ');
    throw new PriceBookError(
      `required with the price book's currency ${currency} (${path}): the gateway publishes no minimum charge in ${currency} ` +
        `(Stripe's is the settlement currency's minimum after conversion), so invoicing cannot tell which totals are too small to ` +
        `charge; set ${MINIMUM_CHARGE_VARIABLE} to the smallest ${currency} amount the gateway charges, with two decimals (e.g. 10.00): ` +
        `totals below it are carried onto the next invoice, not charged (the gateway publishes one in ${known})`,
      MINIMUM_CHARGE_VARIABLE,
    );
  }
  if (published !== undefined && minimumCharge !== undefined && minorUnits(minimumCharge, currency) < published) {
    const floor = fromMinorUnits(published, currency);
    throw new PriceBookError(
      `${minimumCharge} is below the gateway's own minimum charge in ${currency}, the price book's currency (${path}): ${floor}, ` +
        `which it publishes and refuses less than; unset ${MINIMUM_CHARGE_VARIABLE} to use ${floor}, or set a higher amount only ` +
        `when the gateway's account settles in another currency (that currency's minimum after conversion)`,
      MINIMUM_CHARGE_VARIABLE,
    );
  }
  declareMinimumCharge(currency, minimumCharge);
}

/** loadPriceBook, checked against the currency the database bills in (checkBilledCurrency). */
export async function loadBilledPriceBook(db: { query: pg.Pool['query'] }, path?: string, minimumCharge?: string): Promise<PriceBook> {
  const prices = loadPriceBook(path, minimumCharge);
  await checkBilledCurrency(db, prices, path);
  return prices;
}

/**
 * Refuses a price book whose currency is not the one the database already
 * bills in: its invoices and credit are amounts in that currency, and a grant
 * in one must never pay an invoice in another. Any row says which: every row
 * was written under this check.
 */
export async function checkBilledCurrency(db: { query: pg.Pool['query'] }, prices: PriceBook, path = DEFAULT_PRICE_BOOK): Promise<void> {
  const { rows } = await db.query<{ currency: string }>(
    `(select currency from invoicing.invoices limit 1) union all (select currency from invoicing.credit_entries limit 1)`,
  );
  const billed = rows.find((r) => r.currency !== prices.currency);
  if (billed) {
    throw new PriceBookError(
      `price book ${path}: currency: ${prices.currency}, but this database bills in ${billed.currency} (its invoices and credit); a price book may not change the currency`,
    );
  }
}

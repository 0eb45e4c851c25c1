import type { InvoiceLine, PriceBook } from '@vault/contracts';
import { Money, monthsOf, sumCents, toCents, toQuantity, usageAmount } from './money.ts';
import type { Period } from './period.ts';
import { lineId, type LineUsage } from './usage.ts';

/** A line with the exact usage behind it, which the invoice stores for later adjustments. */
export type PricedLine = InvoiceLine & { ms: number };

/**
 * Prices one line: quantity in months is its seconds over the month's real
 * length; the amount is the monthly price times min(quantity, 1), rounded once,
 * half up, to cents. A product without a price gets no amount (it is unpriced).
 */
export function priceLine(usage: LineUsage, period: Period, prices: PriceBook): PricedLine {
  const unitPrice = prices.products[usage.product] ?? null;
  const { quantity, amount } = priced(usage.ms, period.seconds, unitPrice);
  return {
    app_id: usage.appId,
    kind: usage.kind,
    key: usage.key,
    product: usage.product,
    quantity,
    unit_price: unitPrice,
    amount,
    description: describe(usage.key, usage.product),
    ms: usage.ms,
  };
}

// A month's lines repeat the same (milliseconds, price) pairs (whole months,
// the same slots across apps): each is worked out in decimal.js once and
// remembered, keyed by everything the result depends on (nested maps: no key
// string to build per line). Bounded: cleared when full, so memory never
// grows with the month.
type Priced = { quantity: string; amount: string | null };
const PRICED_MAX = 100_000;
const pricedMemo = new Map<number, Map<string | null, Map<number, Priced>>>();
let pricedCount = 0;

function priced(ms: number, monthSeconds: number, unitPrice: string | null): Priced {
  let byPrice = pricedMemo.get(monthSeconds);
  if (byPrice === undefined) pricedMemo.set(monthSeconds, (byPrice = new Map()));
  let byMs = byPrice.get(unitPrice);
  if (byMs === undefined) byPrice.set(unitPrice, (byMs = new Map()));
  let hit = byMs.get(ms);
  if (hit === undefined) {
    hit = {
      quantity: toQuantity(monthsOf(ms, monthSeconds)),
      amount: unitPrice === null ? null : toCents(usageAmount(ms, monthSeconds, unitPrice)),
    };
    if (pricedCount >= PRICED_MAX) {
      pricedMemo.clear();
      pricedCount = 0;
      return hit;
    }
    byMs.set(ms, hit);
    pricedCount += 1;
  }
  return hit;
}

/** The lines of an invoice, grouped by app, in a stable order. */
export function priceLines(usage: readonly LineUsage[], period: Period, prices: PriceBook): PricedLine[] {
  return usage.map((u) => priceLine(u, period, prices)).sort(byLine);
}

/** The sum of the rounded line amounts, the subtotal (an unpriced line adds nothing and holds the invoice). */
export function invoiceTotal(lines: readonly InvoiceLine[]): string {
  return sumCents(lines.flatMap((l) => (l.amount === null ? [] : [l.amount])));
}

/**
 * The prices a finalized month is recomputed at: each product at the unit price
 * the month charged it (a price changed since is no event, and never re-prices
 * a finalized month), its usage lines' price before its adjustments'; the price
 * book's for a product the month never charged.
 */
export function chargedPrices(prices: PriceBook, charged: readonly InvoiceLine[]): PriceBook {
  const products = { ...prices.products };
  for (const usage of [false, true]) {
    for (const l of charged) {
      if (l.unit_price !== null && (l.kind !== 'adjustment') === usage && l.kind !== 'carried') products[l.product] = l.unit_price;
    }
  }
  return { ...prices, products };
}

/**
 * Late usage: what a finalized month would charge now minus what it charged,
 * per line key, as adjustment lines for the account's next invoice. A line
 * whose amount did not change gives none. Usage that changed on a product
 * without a price is an adjustment without an amount: unpriced, it holds the
 * invoice that carries it (unpricedHolds) until the product has a price.
 * Its quantity is the change in billable months (each side capped at one), so
 * a capped line stopped late shows the months its amount gives back; quantity
 * × unit price is within a cent of the amount, each side rounded once as its
 * invoice charged it (docs/contracts/invoicing.md, Rating).
 */
export function adjustmentLines(charged: readonly PricedLine[], now: readonly PricedLine[], adjusts: Period): PricedLine[] {
  const id = (l: PricedLine) => lineId(l.app_id, l.kind, l.key, l.product);
  const before = new Map(charged.map((l) => [id(l), l]));
  const after = new Map(now.map((l) => [id(l), l]));
  const out: PricedLine[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const was = before.get(key);
    const is = after.get(key);
    const line = (is ?? was)!;
    // The raw difference stays on the line (`ms`: chargedSoFar adds it up); the months shown are
    // the billable ones, capped as the amounts are, so quantity × unit price gives the amount (to a cent).
    const ms = (is?.ms ?? 0) - (was?.ms ?? 0);
    const months = billableMonths(is?.ms ?? 0, adjusts).minus(billableMonths(was?.ms ?? 0, adjusts));
    const unpriced = line.unit_price === null;
    const amount = unpriced ? null : new Money(is?.amount ?? 0).minus(was?.amount ?? 0);
    if (amount === null ? ms === 0 : amount.isZero()) continue;
    const change = amount === null ? 'Change' : amount.isNegative() ? 'Credit' : 'Charge';
    out.push({
      app_id: line.app_id,
      kind: 'adjustment',
      key: line.key,
      product: line.product,
      quantity: toQuantity(months),
      unit_price: line.unit_price,
      amount: amount === null ? null : amount.toFixed(2),
      description: `${change} for ${adjusts.key}: ${line.description}`,
      adjusts: adjusts.key,
      ms,
    });
  }
  return out.sort(byLine);
}

/** Months a line bills: its usage over the month's length, at most one (the price caps a line, usageAmount). */
const billableMonths = (ms: number, period: Period) => Money.min(monthsOf(ms, period.seconds), 1);

/**
 * What an account has been charged so far for each line key of a finalized
 * month: its invoice's lines plus the adjustments later invoices made to it.
 * An adjustment line keeps the key and product, so its kind comes from the product.
 */
export function chargedSoFar(lines: readonly PricedLine[]): PricedLine[] {
  const byId = new Map<string, PricedLine>();
  for (const l of lines) {
    const kind = l.kind === 'adjustment' ? productKind(l.product) : l.kind;
    const id = lineId(l.app_id, kind, l.key, l.product);
    const prev = byId.get(id);
    if (!prev) {
      byId.set(id, { ...l, kind, description: describe(l.key, l.product), adjusts: undefined });
      continue;
    }
    const amount = prev.amount === null && l.amount === null ? null : new Money(prev.amount ?? 0).plus(l.amount ?? 0).toFixed(2);
    byId.set(id, { ...prev, amount, ms: prev.ms + l.ms });
  }
  return [...byId.values()];
}

const productKind = (product: string): 'dyno' | 'addon' => (product.startsWith('dyno:') ? 'dyno' : 'addon');

function describe(key: string, product: string): string {
  // "dyno:standard-1x" → "web.1 standard-1x"; "addon:heroku-postgresql:essential-0" → "heroku-postgresql:essential-0 (key)".
  const colon = product.indexOf(':');
  const kind = colon < 0 ? product : product.slice(0, colon);
  const rest = colon < 0 ? '' : product.slice(colon + 1);
  return kind === 'dyno' ? `${key} ${rest}` : `${rest} (${key})`;
}

/** Lines grouped by app, then add-ons, dynos, adjustments and carried amounts, then key and product. */
export function sortLines<T extends InvoiceLine>(lines: T[]): T[] {
  return lines.sort(byLine);
}

const KIND_ORDER = { addon: 0, dyno: 1, adjustment: 2, carried: 3 } as const;

function byLine(a: InvoiceLine, b: InvoiceLine): number {
  return compare(a.app_id, b.app_id) || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || compare(a.key, b.key) || compare(a.product, b.product);
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

import { createHash } from 'node:crypto';
import type { DateTime } from 'luxon';
import type { Hold, Invoice } from '@vault/contracts';
import { settle, type CreditLot } from './credit.ts';
import { invoiceTotal, sortLines, type PricedLine } from './lines.ts';
import type { Period } from './period.ts';

/**
 * An invoice's id follows from its account and month, so a draft shows the
 * id its invoice will have, and a second finalize run can only name the same one.
 */
export function invoiceId(accountId: string, period: string): string {
  return `in_${createHash('sha256').update(`${accountId}\n${period}`).digest('hex').slice(0, 24)}`;
}

/** "2026-10-000123": the month, then a sequence within it. */
export function invoiceNumber(period: string, n: number): string {
  return `${period}-${String(n).padStart(6, '0')}`;
}

/** When a month may be finalized: its end plus the grace period. */
export function dueAt(period: Period, graceHours: number): DateTime {
  return period.end.plus({ hours: graceHours });
}

/** Holds that come from pricing: a line whose product has no price, late usage of one included. */
export function unpricedHolds(lines: readonly PricedLine[]): Hold[] {
  return lines
    .filter((l) => l.kind !== 'carried' && l.unit_price === null)
    .map((l) => ({
      reason: 'unpriced',
      app_id: l.app_id,
      detail: `${l.product} has no price in the price book${l.adjusts === undefined ? '' : ` (late usage of ${l.adjusts})`}`,
    }));
}

/** A draft invoice: usage lines, adjustments and carried amounts, the credit it would use, and what holds it. */
export type DraftInvoice = Omit<Invoice, 'lines'> & { lines: PricedLine[]; creditUses: { lotId: string; amount: string }[] };

/** `lots`: the account's credit balance now; the draft shows what of it the invoice would use. */
export function draftInvoice(
  accountId: string,
  period: Period,
  currency: string,
  lines: readonly PricedLine[],
  holds: readonly Hold[],
  lots: readonly CreditLot[] = [],
): DraftInvoice {
  const sorted = sortLines([...lines]);
  const settlement = settle(invoiceTotal(sorted), lots);
  return {
    id: invoiceId(accountId, period.key),
    number: null,
    account_id: accountId,
    period: period.key,
    status: 'draft',
    currency,
    subtotal: settlement.subtotal,
    credit_applied: settlement.creditApplied,
    total: settlement.total,
    amount_refunded: '0.00',
    amount_disputed: '0.00',
    lines: sorted,
    holds: [...holds],
    creditUses: settlement.uses,
  };
}

/** The API's view of an invoice: the milliseconds behind its lines and the lots it draws on stay inside. */
export function publicInvoice(invoice: Omit<DraftInvoice, 'creditUses'> & { creditUses?: unknown }): Invoice {
  const { creditUses: _uses, ...rest } = invoice;
  return { ...rest, lines: invoice.lines.map(({ ms: _ms, ...line }) => line) };
}

// Which month's invoice the account gets next, for the invoice list's credit
// outlook. While the month before has ended and the account has no invoice of
// it (its grace period, INVOICE_GRACE_HOURS), finalize settles that month first
// when its draft is ready (something to bill, nothing holding it): its draft
// takes the credit first (accountView's `previous`, afterPrevious in
// domain/draft.ts). Judged against the calendar month instead, a lot expiring
// between the two due times was said to pay no invoice while it paid that one.
import type { Invoice } from '@vault/contracts';
import { PERIOD_KEY_PATTERN } from '@vault/contracts';
import type { Billing } from '../billing/types.ts';
import { parsePeriod, previousPeriod } from '../domain/period.ts';

/** "YYYY-MM" of the invoice finalized next: the month before while it waits for its invoice and is ready, else this month. */
export async function nextInvoicePeriod(
  billing: Pick<Billing, 'currentPeriod' | 'draft'>,
  accountId: string,
  invoices: readonly Pick<Invoice, 'period'>[],
): Promise<string> {
  const current = billing.currentPeriod();
  const before = previousPeriod(parsePeriod(current)).key;
  // None before 0001-01; a month already invoiced is settled.
  if (!PERIOD_KEY_PATTERN.test(before) || invoices.some((i) => i.period === before)) return current;
  // One more read, only while the month before has no invoice: its draft as finalize will write it
  // (a finalized invoice if one was written since the list was read).
  const draft = await billing.draft(accountId, before);
  const ready = draft.status === 'draft' && draft.holds.length === 0 && draft.lines.length > 0;
  return ready ? before : current;
}

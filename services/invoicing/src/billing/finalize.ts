import type { DateTime } from 'luxon';
import type pg from 'pg';
import { withSessionLock, withTransaction } from '@vault/db';
import type { PriceBook } from '@vault/contracts';
import type { Logger } from '@vault/runtime';
import type { FinalizeReport } from './types.ts';
import { computeDrafts } from './compute-drafts.ts';
import { dueAt, invoiceNumber } from '../domain/invoice.ts';
import { Money, sumCents } from '../domain/money.ts';
import type { Period } from '../domain/period.ts';
import { expireCredits, markCarried, recordSettlements } from './credit-store.ts';
import { insertInvoices, type NewInvoice } from './invoice-store.ts';
import { recordFinalizedNotices } from '../notices/outbox.ts';

/** Asked to finalize a month whose grace period has not passed. */
export class NotDueError extends Error {}

// One finalize at a time, whatever the month: a run computes adjustments from
// other months' invoices, so runs must see each other's results whole.
const FINALIZE_LOCK = 0x76_61_75_6c; // "vaul"

export interface FinalizeDeps {
  pool: pg.Pool;
  prices: PriceBook;
  graceHours: number;
  now: () => DateTime;
  log?: Logger;
}

/**
 * Finalizes a month: every account with usage (or late-usage adjustments) in
 * it that has no invoice for it yet and is not held gets a numbered,
 * immutable invoice. Idempotent: a second run, or one running at the same
 * time, finds the invoices made and adds only what became due since.
 */
export async function finalizePeriod(deps: FinalizeDeps, period: Period): Promise<FinalizeReport> {
  const due = dueAt(period, deps.graceHours);
  if (deps.now() < due) {
    throw new NotDueError(`${period.key} is not due until ${due.toISO()} (INVOICE_GRACE_HOURS=${deps.graceHours})`);
  }
  const started = performance.now();
  // The lock is held before the transaction begins, so the transaction's
  // snapshot is taken after any earlier run has committed.
  const { report, computed, inserting } = await withSessionLock(deps.pool, FINALIZE_LOCK, () =>
    withTransaction(
      deps.pool,
      async (client) => {
        // The balance as of now: what expired by now is written off first, so it is never applied.
        const at = deps.now().toJSDate();
        const expired = await expireCredits(client, at);
        const { drafts, finalized } = await computeDrafts(client, deps.prices, {
          period,
          until: period.end.toJSDate(),
          unfinalizedOnly: true,
          adjustments: true,
          creditAt: at,
        });
        const computed = performance.now();
        const ready = [...drafts.values()].filter((d) => d.holds.length === 0 && d.lines.length > 0);
        ready.sort((a, b) => (a.account_id < b.account_id ? -1 : a.account_id > b.account_id ? 1 : 0));
        // A month's numbers run 1..n with no gap (one run at a time, invoices are
        // never deleted), so this run's go on from the count already finalized.
        const invoices: NewInvoice[] = ready.map((d, i) => ({ ...d, number: invoiceNumber(period.key, finalized.size + i + 1) }));
        const inserting = performance.now();
        await insertInvoices(client, period, invoices);
        // In the same transaction as the invoices: the credit they drew or left, and the small totals they carry.
        await recordSettlements(
          client,
          invoices.map((x) => ({ invoiceId: x.id, accountId: x.account_id, currency: x.currency, settlement: settlementOf(x) })),
          at,
        );
        await markCarried(
          client,
          invoices.flatMap((x) => x.lines.filter((l) => l.kind === 'carried').map((l) => l.key)),
        );
        await recordFinalizedNotices(client, period.key, invoices, at); // invoice.finalized, in the invoices' transaction
        const report: FinalizeReport = {
          period: period.key,
          finalized: invoices.length,
          alreadyFinalized: finalized.size,
          held: drafts.size - ready.length,
          total: sumCents(invoices.map((x) => x.total)),
          creditApplied: sumCents(invoices.map((x) => x.credit_applied)),
          creditsExpired: expired,
        };
        return { report, computed, inserting };
      },
      { isolation: 'repeatable read', log: deps.log, name: 'finalize' },
    ),
  );
  deps.log?.info('invoicing.finalized', {
    period: period.key,
    'count#invoices.finalized': report.finalized,
    already_finalized: report.alreadyFinalized,
    'count#invoices.held': report.held,
    total: report.total,
    'measure#finalize.compute': `${(computed - started).toFixed(0)}ms`,
    'measure#finalize.insert': `${(performance.now() - inserting).toFixed(0)}ms`,
    'measure#finalize.duration': `${(performance.now() - started).toFixed(0)}ms`,
  });
  return report;
}

const settlementOf = (x: NewInvoice) => ({
  subtotal: x.subtotal,
  creditApplied: x.credit_applied,
  total: x.total,
  remainder: new Money(x.subtotal).isNegative() ? new Money(x.subtotal).neg().toFixed(2) : '0.00',
  uses: x.creditUses,
});

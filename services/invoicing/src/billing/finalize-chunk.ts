// One chunk of a month's accounts finalized in one transaction: its late-usage
// adjustments, credit and small totals looked up for the whole chunk at once,
// every draft built by the rating domain, then the invoices that are ready
// written with their lines, notices, ledger entries and carried totals (and an
// account a carry leaves with nothing past due reinstated). Either
// all of it commits or none: a run killed mid-month resumes after the last
// chunk that committed.
import { setImmediate } from 'node:timers/promises';
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import type { PriceBook } from '@vault/contracts';
import type { Logger } from '@vault/runtime';
import { reinstateIfClear } from '../accounts/standing.ts';
import { compareAccounts } from '../domain/account-order.ts';
import { assembleDraft, isReady } from '../domain/draft.ts';
import { type DraftInvoice, invoiceNumber } from '../domain/invoice.ts';
import type { PricedLine } from '../domain/lines.ts';
import { Money, sumCents } from '../domain/money.ts';
import type { Period } from '../domain/period.ts';
import { creditLots, markCarried, recordSettlements, smallInvoices } from './credit-store.ts';
import { type AccountRows, YIELD_EVERY } from './finalize-stream.ts';
import { copyFinalizedNotices, recordCarriedNotices } from './finalize-notices.ts';
import { noteRunWrites } from './finalize-runs.ts';
import { insertInvoices, type NewInvoice } from './invoice-store.ts';
import { lateAdjustments } from './late-usage.ts';

export interface ChunkTerms {
  period: Period;
  prices: PriceBook;
  /** The gateway's smallest charge: smaller totals are carried. */
  minimum: string;
  /** Billing's clock for the whole run: the balance as of then, the ledger entries' date. */
  at: Date;
  /** When the run's snapshot of usage was taken: the invoices' finalized_at. */
  finalizedAt: Date;
  /** The run's own id: its first chunk that writes counts it as started (finalize-runs.ts). */
  run: string;
  log?: Logger;
}

export interface ChunkOutcome {
  finalized: number;
  held: number;
  total: string;
  creditApplied: string;
  /** The transaction's own work, and how long it then waited for the chunk before it to commit. */
  workMs: number;
  waitMs: number;
}

/**
 * The most invoices a month can number: `YYYY-MM-NNNNNN` is six digits, and a
 * seventh would sort `2026-10-1000000` before `2026-10-100001` wherever numbers
 * are ordered as text (the exports, the invoice lists). Past it, finalize
 * refuses the chunk (InvoiceNumbersExhaustedError) rather than widen numbers
 * that finance and the platform hold as fixed width.
 */
export const MAX_INVOICES_A_MONTH = 999_999;

/** A month would number an invoice past MAX_INVOICES_A_MONTH: nothing of the chunk is written. */
export class InvoiceNumbersExhaustedError extends Error {
  constructor(period: string, wanted: number) {
    super(
      `${period} would need invoice number ${wanted}: a month's numbers (YYYY-MM-NNNNNN) stop at ${MAX_INVOICES_A_MONTH.toLocaleString('en-US')}, ` +
        'and a seventh digit would sort out of order; nothing of this chunk was finalized',
    );
  }
}

/** Where a chunk stands in the run: the number its first invoice gets, and the chunk before it committed. */
export interface ChunkOrder {
  /** Resolves once the chunk before has counted its invoices: this chunk's first number. */
  firstNumber: Promise<number>;
  /** Resolves once the chunk before has committed; rejects if it failed. */
  previousCommitted: Promise<unknown>;
}

export interface ChunkRun {
  /** The number after this chunk's last invoice, as soon as its drafts are counted. */
  nextNumber: Promise<number>;
  /** Settles when its transaction has committed (or failed). */
  committed: Promise<ChunkOutcome>;
}

/**
 * Finalizes the ready accounts of `rows` (in account order) in one
 * transaction. Chunks overlap: one looks up, prices and inserts while the one
 * before does, but it numbers after that one has counted its invoices and
 * commits only after it has committed, so the month's numbers never have a
 * gap, whichever transaction fails.
 */
export function finalizeChunk(pool: pg.Pool, terms: ChunkTerms, rows: readonly AccountRows[], order: ChunkOrder): ChunkRun {
  const { period, prices, minimum } = terms;
  const accounts = rows.map((r) => r.account);
  let counted!: (next: number) => void;
  let notCounted!: (err: unknown) => void;
  const nextNumber = new Promise<number>((resolve, reject) => {
    counted = resolve;
    notCounted = reject;
  });
  const committed = withTransaction(
    pool,
    async (client) => {
      const started = performance.now();
      const late = rows.flatMap((r) => r.late);
      const adjustments = late.length > 0 ? await lateAdjustments(client, prices, late) : new Map<string, PricedLine[]>();
      const lots = await creditLots(client, accounts, terms.at);
      const small = await smallInvoices(client, accounts, minimum);
      const drafts: DraftInvoice[] = [];
      for (const [i, r] of rows.entries()) {
        // Now and then the event loop gets to flush the other chunk's COPY to its connection.
        if (i > 0 && i % YIELD_EVERY === 0) await setImmediate();
        drafts.push(
          assembleDraft(
            {
              account: r.account,
              usage: r.usage,
              adjustments: adjustments.get(r.account) ?? [],
              holds: r.holds,
              lots: lots.get(r.account) ?? [],
              small: small.get(r.account) ?? [],
            },
            { period, prices, minimum },
          ),
        );
      }
      const ready = drafts.filter(isReady);
      // A month's numbers run 1..n with no gap, in account order within a run.
      const first = await order.firstNumber;
      const last = first + ready.length - 1;
      if (ready.length > 0 && last > MAX_INVOICES_A_MONTH) throw new InvoiceNumbersExhaustedError(period.key, last);
      counted(first + ready.length);
      const invoices: NewInvoice[] = ready.map((d, i) => ({ ...d, number: invoiceNumber(period.key, first + i) }));
      await insertInvoices(client, period, invoices, terms.finalizedAt);
      // invoice.finalized, in the invoices' transaction, at the instant the invoices say they were finalized (finalized_at).
      await copyFinalizedNotices(client, period.key, invoices, terms.finalizedAt);
      // In the same transaction as the invoices: the credit they drew or left, and the small totals they carry.
      await recordSettlements(
        client,
        invoices.map((x) => ({ invoiceId: x.id, accountId: x.account_id, currency: x.currency, settlement: settlementOf(x) })),
        terms.at,
      );
      const carried = await markCarried(
        client,
        invoices.flatMap((x) =>
          x.lines
            .filter((l) => l.kind === 'carried')
            .map((l) => ({ number: l.key, by: { id: x.id, number: x.number, period: period.key } })),
        ),
      );
      // invoice.carried, in the transaction that makes each small invoice carried.
      await recordCarriedNotices(client, carried, terms.finalizedAt);
      // A small invoice an older release made past_due (SMALL_INVOICES) no longer is: its account is
      // reinstated now if nothing else is past due, as a payment reinstates it (after the invoice's lock).
      const cleared = [...new Set(carried.filter((c) => c.wasPastDue).map((c) => c.accountId))].sort(compareAccounts);
      for (const account of cleared) await reinstateIfClear(client, account, terms.finalizedAt);
      const worked = performance.now();
      // Throws if the chunk before failed: this one rolls back rather than leave a gap before its numbers.
      await order.previousCommitted;
      // After the chunk before committed: its lock on the run's row is gone.
      if (invoices.length > 0) await noteRunWrites(client, period.key, terms.run);
      return {
        workMs: worked - started,
        waitMs: performance.now() - worked,
        finalized: invoices.length,
        held: drafts.filter((d) => d.holds.length > 0).length,
        total: sumCents(invoices.map((x) => x.total)),
        creditApplied: sumCents(invoices.map((x) => x.credit_applied)),
      };
    },
    // Read committed: the chunk reads only its own accounts' rows, which no
    // other chunk touches. Never run again on its own: the next chunk numbered
    // after this one's count, which a second try might change; the run fails
    // instead, and the next run resumes after the last committed chunk.
    { attempts: 1, log: terms.log, name: 'finalize_chunk' },
  );
  committed.catch(notCounted);
  return { nextNumber, committed };
}

const settlementOf = (x: NewInvoice) => ({
  subtotal: x.subtotal,
  creditApplied: x.credit_applied,
  total: x.total,
  remainder: new Money(x.subtotal).isNegative() ? new Money(x.subtotal).neg().toFixed(2) : '0.00',
  uses: x.creditUses,
});

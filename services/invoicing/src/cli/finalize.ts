import { parseArgs } from 'node:util';
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import type { InvoicingSettings } from '../config.ts';
import { createBilling } from '../billing/service.ts';
import { FinalMonthError, NotDueError } from '../billing/finalize.ts';
import { MeteringNotReadyError } from '../billing/metering-schema.ts';
import { loadBilledPriceBook } from '../billing/price-book-file.ts';
import { ensureInvoicingSchema } from './migrations.ts';
import { CliUsageError, periodOption } from './usage.ts';

/** `finalize --period YYYY-MM`'s month, or a CliUsageError: checked before anything is opened. */
export function parseFinalizeArgs(args: string[]): string {
  let parsed;
  try {
    parsed = parseArgs({ args, strict: true, options: { period: { type: 'string' } } });
  } catch (err) {
    throw new CliUsageError(`finalize: ${(err as Error).message}`);
  }
  return periodOption('finalize', parsed.values.period);
}

/**
 * `vault finalize --period YYYY-MM`: finalizes that month's due accounts that
 * are not held, prints what it did, and exits 1 if the month is not due yet,
 * is before the usage horizon, or metering's schema is not migrated far enough.
 */
export async function finalizeCommand(
  args: string[],
  ctx: { pool: pg.Pool; settings: InvoicingSettings; log: Logger; out: (line: string) => void },
): Promise<number> {
  const period = parseFinalizeArgs(args);
  await ensureInvoicingSchema(ctx.pool);
  const prices = await loadBilledPriceBook(ctx.pool, ctx.settings.PRICE_BOOK, ctx.settings.GATEWAY_MINIMUM_CHARGE);
  const billing = createBilling({
    pool: ctx.pool,
    prices,
    graceHours: ctx.settings.INVOICE_GRACE_HOURS,
    log: ctx.log,
  });
  try {
    const r = await billing.finalize(period);
    ctx.out(
      // In the currency billed (one per database: the price book's guard), so the figure read alone is unambiguous.
      `finalized ${r.finalized} invoice(s) for ${r.period} totalling ${r.total} ${prices.currency}; ` +
        `${r.alreadyFinalized} already finalized; ${r.held} held (GET /v1/holds?period=${r.period})`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof NotDueError || err instanceof FinalMonthError || err instanceof MeteringNotReadyError)) throw err;
    ctx.out(`nothing finalized: ${err.message}`);
    return 1;
  }
}

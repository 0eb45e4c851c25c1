import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import type { PriceBook } from '@vault/contracts';
import { EXPORT_KINDS, EXPORT_TABLES, exportCsv, isExportKind, type ExportKind, type ExportSummary } from '../exports/index.ts';
import { describeHeld } from '../exports/held.ts';
import { loadBilledPriceBook } from '../billing/price-book-file.ts';
import { checkInvoicingSchema } from './schema-check.ts';
import { CliUsageError, periodOption } from './usage.ts';

export interface ExportRequest {
  kind: ExportKind;
  period: string;
}

/** `invoices|lines|credits --period YYYY-MM`; anything else is a usage error naming what is wrong. */
export function parseExportArgs(args: string[]): ExportRequest {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { period: { type: 'string' } } });
  } catch (err) {
    throw new CliUsageError(`export: ${(err as Error).message}`);
  }
  const [kind, ...extra] = parsed.positionals;
  if (kind === undefined || !isExportKind(kind)) {
    throw new CliUsageError(
      `export: ${kind === undefined ? 'which export?' : `unknown export ${kind}`}; exports: ${EXPORT_KINDS.join(', ')}`,
    );
  }
  if (extra.length > 0) throw new CliUsageError(`export: unexpected argument ${extra[0]}`);
  return { kind, period: periodOption('export', parsed.values.period) };
}

/**
 * Writes the export to `out` as fast as `out` takes it (waits for 'drain'), and
 * returns its control figures. `out` is not ended: it may be stdout. A month not
 * due yet (`graceHours`: INVOICE_GRACE_HOURS) or whose finalize has not completed
 * throws before anything is written (MonthNotDueError, MonthNotFinalizedError),
 * as does credits.csv of a month whose ledger may still change (CreditsNotFinalError),
 * and invoicing's schema not current (SchemaNotCurrentError: an export migrates nothing).
 * The month's held accounts are counted with `prices`, or the price book at
 * `priceBook` (PRICE_BOOK; the default one when unset), as the holds report does.
 */
export async function runExport(
  pool: pg.Pool,
  request: ExportRequest,
  out: Writable,
  opts: { graceHours?: number; prices?: PriceBook; priceBook?: string; minimumCharge?: string } = {},
): Promise<ExportSummary> {
  await checkInvoicingSchema(pool);
  // Only the held count needs it: a price book that cannot be loaded says so, and never stops the export.
  let prices = opts.prices;
  let noPrices: string | undefined;
  if (!prices) {
    try {
      prices = await loadBilledPriceBook(pool, opts.priceBook, opts.minimumCharge);
    } catch (err) {
      noPrices = `the price book: ${(err as Error).message}`;
    }
  }
  let summary: ExportSummary | undefined;
  let outError: Error | undefined;
  const onError = (err: Error) => (outError ??= err);
  out.on('error', onError);
  try {
    // Leaving the loop early (the reader went away) ends the cursor and frees the client.
    for await (const chunk of exportCsv(pool, request.kind, request.period, {
      graceHours: opts.graceHours,
      prices,
      onDone: (s) => (summary = s),
    })) {
      if (!out.write(chunk) && !outError) await drained(out);
      if (outError || out.destroyed) throw outError ?? new Error('the output was closed');
    }
  } finally {
    out.off('error', onError);
  }
  if (!summary) throw new Error('the export ended without its control row');
  if (noPrices !== undefined && EXPORT_TABLES[request.kind].invoicesOfMonth) summary.held = { unknown: noPrices };
  return summary;
}

/** Resolves when `out` takes writes again (or closes); rejects on its error. */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: Error) => {
      out.off('drain', ok);
      out.off('close', ok);
      out.off('error', settle);
      if (err) reject(err);
      else resolve();
    };
    const ok = () => settle();
    out.on('drain', ok);
    out.on('close', ok);
    out.on('error', settle);
  });
}

/**
 * The line for stderr: what was written, its control total in its currency,
 * and, when accounts of the month are held, that the file is the month so far.
 */
export function describeExport(s: ExportSummary): string {
  const extra = Object.entries(s.sums)
    .filter(([name]) => name !== EXPORT_TABLES[s.kind].totalColumn)
    .map(([name, sum]) => `, ${name} ${sum}`)
    .join('');
  const currency = s.currency === null ? '' : ` ${s.currency}`;
  const held = describeHeld(s.held, s.period);
  return (
    `exported ${s.kind}.csv for ${s.period}: ${s.rows} ${s.rows === 1 ? 'row' : 'rows'}, control total ${s.total}${currency}${extra}` +
    (held === undefined ? '' : `; ${held}`)
  );
}

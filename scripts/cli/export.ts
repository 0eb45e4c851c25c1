import type { Database } from '@vault/db';
import { CliUsageError, describeExport, parseExportArgs, runExport } from '@vault/invoicing/cli';
import { createLogger, openReachableDatabase } from '@vault/runtime';
import type { VaultSettings } from './vault-settings.ts';
import { holdDatabase } from './early-exit.ts';
import { parseCommand, UsageError, usageOf, type AnySpec } from './command.ts';
import { cliSettings } from './settings.ts';
import { exportSpec } from './export-spec.ts';
import { stdoutFailure } from './stdout.ts';

/**
 * `vault export invoices|lines|credits --period YYYY-MM`: the finance CSV on stdout
 * (nothing else goes there), its row count and control total on stderr.
 */
export async function exportCommand(args: string[]): Promise<number> {
  parseCommand(exportSpec, args);
  const request = asUsage(() => parseExportArgs(args), exportSpec);
  const settings = cliSettings({ apps: ['invoicing'] });
  const db = await openQuietDatabase(settings);
  try {
    // A month before its end + INVOICE_GRACE_HOURS is refused (exit 1, naming its due time), as `vault finalize` refuses it.
    const summary = await runExport(db.pool, request, process.stdout, {
      graceHours: settings.INVOICE_GRACE_HOURS,
      // Held accounts are counted as the holds report counts them, with the price book billed with.
      priceBook: settings.PRICE_BOOK,
      minimumCharge: settings.GATEWAY_MINIMUM_CHARGE,
    });
    process.stderr.write(`${describeExport(summary)}\n`);
    return 0;
  } catch (err) {
    // `vault export … | head`: the reader went away; the file is incomplete, say so without a stack.
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
    process.stderr.write(`${stdoutFailure('export', err as NodeJS.ErrnoException)} before the control row: the CSV is incomplete\n`);
    return 1;
  } finally {
    await db.close();
  }
}

/** Invoicing's usage errors become the command's (exit status 2, with the usage of `spec`). */
export function asUsage<T>(parse: () => T, spec: AnySpec): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof CliUsageError) throw new UsageError(err.message, usageOf(spec));
    throw err;
  }
}

/**
 * The database, with the embedded server's log lines on stderr: stdout carries only the command's output.
 * Let go of if the command ends early (early-exit.ts), as openCliDatabase's.
 */
export function openQuietDatabase(settings: VaultSettings): Promise<Database> {
  const log = createLogger({ app: 'vault' }, (line) => process.stderr.write(`${line}\n`));
  return holdDatabase(openReachableDatabase(settings, (event, fields) => log.info(event, fields)));
}

import { CliUsageError, finalizeCommand as finalize, type InvoicingCommand } from '@vault/invoicing/cli';
import { UsageError } from './apps.ts';
import { cliLog, cliSettings, openCliDatabase } from './settings.ts';

/**
 * Runs one of invoicing's commands (services/invoicing does the work) with the
 * CLI's settings, database and log, its lines on stdout; its usage errors
 * become the CLI's (exit 2 with the usage).
 */
export async function runInvoicingCommand(command: InvoicingCommand, args: string[]): Promise<number> {
  const settings = cliSettings();
  const db = await openCliDatabase(settings);
  try {
    return await command(args, { pool: db.pool, settings, log: cliLog, out: (line) => console.log(line) });
  } catch (err) {
    throw err instanceof CliUsageError ? new UsageError(err.message) : err;
  } finally {
    await db.close();
  }
}

/** `vault finalize --period YYYY-MM`. */
export const finalizeCommand = (args: string[]) => runInvoicingCommand(finalize, args);

import { CliUsageError, finalizeCommand as finalize, parseFinalizeArgs, type InvoicingCommand } from '@vault/invoicing/cli';
import { parseCommand, UsageError, type CommandSpec } from './command.ts';
import { asUsage } from './export.ts';
import { cliLog, cliSettings, openCliDatabase } from './settings.ts';
import { finalizeSpec } from './finalize-spec.ts';
import { printedLines } from './stdout.ts';

/**
 * Runs one of invoicing's commands (services/invoicing does the work) with the
 * CLI's settings, database and log, its lines on stdout; its usage errors
 * become the CLI's (exit 2 with the usage). The arguments are checked against
 * `spec` first, and by the command's own `check` when it has one, so `--help`,
 * unknown options and bad values never open (or start) the database.
 */
export async function runInvoicingCommand(
  spec: CommandSpec,
  command: InvoicingCommand,
  args: string[],
  check?: (args: string[]) => unknown,
): Promise<number> {
  parseCommand(spec, args);
  if (check) asUsage(() => check(args), spec);
  const settings = cliSettings({ apps: ['invoicing'] });
  const db = await openCliDatabase(settings);
  const printed = printedLines();
  try {
    const status = await command(args, { pool: db.pool, settings, log: cliLog, out: printed.out });
    return await printed.settle(spec.name, status);
  } catch (err) {
    throw err instanceof CliUsageError ? new UsageError(err.message) : err;
  } finally {
    printed.stop();
    await db.close();
  }
}

/** `vault finalize --period YYYY-MM`: the period is checked before the database is opened (or started). */
export const finalizeCommand = (args: string[]) => runInvoicingCommand(finalizeSpec, finalize, args, parseFinalizeArgs);

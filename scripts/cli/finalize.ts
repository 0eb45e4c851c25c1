import { CliUsageError, finalizeCommand as finalize, parseFinalizeArgs, type InvoicingCommand } from '@vault/invoicing/cli';
import { parseCommand, UsageError, type CommandSpec } from './command.ts';
import { asUsage } from './export.ts';
import { cliLog, cliSettings, openCliDatabase } from './settings.ts';
import { finalizeSpec } from './finalize-spec.ts';
import { stdoutFailure } from './stdout.ts';

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

/**
 * A command's lines on stdout, kept when stdout's reader is gone: what the command did (a credit
 * granted under a new id) is then said on stderr, so it is not run again to find out, and twice.
 */
function printedLines() {
  let closed: NodeJS.ErrnoException | undefined;
  const unwritten: string[] = [];
  const onError = (err: NodeJS.ErrnoException) => {
    closed ??= err;
  };
  // Listening here keeps exitWhenStdoutFails (main.ts) quiet while the command runs.
  process.stdout.on('error', onError);
  return {
    out(line: string) {
      if (closed) unwritten.push(line);
      else
        process.stdout.write(`${line}\n`, (err) => {
          if (err) {
            closed ??= err;
            unwritten.push(line);
          }
        });
    },
    /** The command's status, or 1 with what it printed in vain on stderr once every write has been answered. */
    async settle(what: string, status: number): Promise<number> {
      if (!closed) await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      if (!closed) return status;
      const done = unwritten.length > 0 ? `; what it printed:\n${unwritten.map((l) => `  ${l}`).join('\n')}` : '';
      process.stderr.write(`${stdoutFailure(what, closed)}${done}\n`);
      return 1;
    },
    stop() {
      process.stdout.off('error', onError);
    },
  };
}

/** `vault finalize --period YYYY-MM`: the period is checked before the database is opened (or started). */
export const finalizeCommand = (args: string[]) => runInvoicingCommand(finalizeSpec, finalize, args, parseFinalizeArgs);

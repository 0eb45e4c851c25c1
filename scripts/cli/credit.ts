import { creditGrantCommand, parseCreditGrantArgs } from '@vault/invoicing/cli';
import { parseCommand, pickSubcommand } from './command.ts';
import { asUsage } from './export.ts';
import { runInvoicingCommand } from './finalize.ts';
import { creditSpec } from './credit-spec.ts';

/** `vault credit grant …`: its arguments are checked before the database is opened. */
export async function creditCommand(args: string[]): Promise<number> {
  const sub = pickSubcommand(creditSpec, args);
  parseCommand(sub.spec, sub.args);
  asUsage(() => parseCreditGrantArgs(sub.args), sub.spec);
  return runInvoicingCommand(sub.spec, creditGrantCommand, sub.args);
}

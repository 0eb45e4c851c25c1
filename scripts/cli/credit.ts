import { creditGrantCommand, creditReverseCommand, parseCreditGrantArgs, parseCreditReverseArgs } from '@vault/invoicing/cli';
import { pickSubcommand } from './command.ts';
import { runInvoicingCommand } from './finalize.ts';
import { creditSpec } from './credit-spec.ts';

/** `vault credit grant|reverse …`: its arguments are checked before the database is opened. */
export async function creditCommand(args: string[]): Promise<number> {
  const sub = pickSubcommand(creditSpec, args);
  return sub.spec.name === 'credit reverse'
    ? runInvoicingCommand(sub.spec, creditReverseCommand, sub.args, parseCreditReverseArgs)
    : runInvoicingCommand(sub.spec, creditGrantCommand, sub.args, parseCreditGrantArgs);
}

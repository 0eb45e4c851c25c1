// `vault export`: its usage and options, apart from what it does (export.ts), so that
// `vault help` and `--help` load this alone.
import type { CommandSpec } from './command.ts';

export const exportSpec: CommandSpec = {
  name: 'export',
  synopsis: 'invoices|lines|credits --period YYYY-MM',
  summary: "a month's finalized invoices, their lines, or the credit ledger's entries as CSV on stdout, ending with a control-total row",
  details: 'Only the CSV goes to stdout; its row count and control total go to stderr.',
  options: { period: { type: 'string', value: 'YYYY-MM', help: 'the month (required)' } },
  positionals: 1,
};

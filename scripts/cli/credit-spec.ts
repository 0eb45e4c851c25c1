// `vault credit`: its usage and options, apart from what it does (credit.ts), so that
// `vault help` and `--help` load this alone.
import type { CommandSpec, GroupSpec } from './command.ts';

const creditGrantSpec: CommandSpec = {
  name: 'credit grant',
  synopsis: '--account ID --amount 10.00 --reason TEXT [--expires WHEN] [--id ID]',
  summary: "grant credit to an account's balance (goodwill, promotions); its next invoices use it",
  details:
    'Prints what it granted and the balance. The id makes it idempotent: the same --id again\n' +
    'changes nothing (exit 0); with other values it is refused (exit 1). Without --id a new one is made.',
  options: {
    account: { type: 'string', value: 'ID', help: 'the account (required)' },
    amount: { type: 'string', value: '10.00', help: 'how much, with two decimals, more than 0.00 (required)' },
    reason: { type: 'string', value: 'TEXT', help: 'why, as finance and the ledger will show it (required)' },
    expires: {
      type: 'string',
      value: 'WHEN',
      help: 'what is left of it expires then: an ISO 8601 instant, or a duration from now as token create takes (P90D, P1Y; at most P100Y); default never',
    },
    id: { type: 'string', value: 'ID', help: 'the grant id (letters, digits, . _ : -); default a new random one' },
  },
};

export const creditSpec: GroupSpec = {
  name: 'credit',
  summary: 'the credit balance of accounts (what the Vault owes them, used by their next invoices)',
  subcommands: [creditGrantSpec],
};

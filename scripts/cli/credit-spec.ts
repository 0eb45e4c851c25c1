// `vault credit`: its usage and options, apart from what it does (credit.ts), so that
// `vault help` and `--help` load this alone.
import type { CommandSpec, GroupSpec } from './command.ts';

const creditGrantSpec: CommandSpec = {
  name: 'credit grant',
  synopsis: '--account ID --amount 10.00 --reason TEXT [--expires WHEN] [--id ID] [--new-account]',
  summary: "grant credit to an account's balance (goodwill, promotions); its next invoices use it",
  details:
    'Prints what it granted, its id and the balance. The id makes it idempotent: the same --id again\n' +
    'changes nothing (exit 0); with other values it is refused (exit 1). Without --id the id is derived\n' +
    'from the account, amount, currency, reason, --expires and the UTC date (grant-YYYYMMDD-…), so the\n' +
    'same command run twice the same day is one grant; a second equal grant that day needs its own --id.\n' +
    'An account invoicing has never seen (no app owned, no invoice, no credit) is refused (exit 1)\n' +
    'unless --new-account says it is new. A grant made in error: `vault credit reverse ID`.',
  options: {
    account: { type: 'string', value: 'ID', help: 'the account (required)' },
    amount: { type: 'string', value: '10.00', help: 'how much, with two decimals, more than 0.00 (required)' },
    reason: { type: 'string', value: 'TEXT', help: 'why, as finance and the ledger will show it (required)' },
    expires: {
      type: 'string',
      value: 'WHEN',
      help: 'what is left of it expires then: an ISO 8601 instant, or a duration from now as token create takes (P90D, P1Y; at most P100Y); default never',
    },
    id: {
      type: 'string',
      value: 'ID',
      help: 'the grant id (letters, digits, . _ : -); default derived from the grant and the UTC date',
    },
    'new-account': { type: 'boolean', help: 'the account is new: grant even though invoicing has never seen it' },
  },
};

const creditReverseSpec: CommandSpec = {
  name: 'credit reverse',
  synopsis: 'ID [--amount 10.00] --reason TEXT',
  summary: 'take back part or all of what is left of a grant made in error (once per grant)',
  details:
    'ID is the grant id `vault credit grant` printed. Takes back --amount, at most what is left of that\n' +
    'grant (never what invoices already used, never other credit), or without --amount all that is left;\n' +
    'the ledger records it as a `reversal` entry. Prints what it took back and the balance. A grant is\n' +
    'reversed once: the same command again changes nothing (exit 0); another amount or reason, no such\n' +
    'grant, or more than is left exit 1. Waits for a finalize run applying credit to end.',
  options: {
    amount: { type: 'string', value: '10.00', help: 'how much to take back, with two decimals; default all that is left of it' },
    reason: { type: 'string', value: 'TEXT', help: 'why, as finance and the ledger will show it (required)' },
  },
  positionals: 1,
};

export const creditSpec: GroupSpec = {
  name: 'credit',
  summary: 'the credit balance of accounts (what the Vault owes them, used by their next invoices)',
  subcommands: [creditGrantSpec, creditReverseSpec],
};

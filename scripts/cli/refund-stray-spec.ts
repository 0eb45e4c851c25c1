// `vault refund-stray`: its usage, apart from what it does (refund-stray.ts), so that
// `vault help` and `--help` load this alone.
import type { CommandSpec } from './command.ts';

export const refundStraySpec: CommandSpec = {
  name: 'refund-stray',
  synopsis: 'INVOICE_ID',
  summary: "refund an invoice's stray payment (one the gateway reports for another amount) so the next pass charges it anew",
  details:
    'Refunds what the gateway would take now: all of it, or what a lost dispute did not take back. While a\n' +
    'dispute of it is open the gateway refuses any refund: nothing is refunded, and the dispute and its\n' +
    'status are named (exit 1); so is a refund the gateway answers failed, canceled or requires_action, with\n' +
    'its status and reason (exit 1). Exit 0 when refunded (or pending at the gateway), or already back with the\n' +
    'cardholder in full (also once a charging pass let it go).',
  positionals: 1,
};

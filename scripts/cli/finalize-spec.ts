// `vault finalize`: its usage and options, apart from what it does (finalize.ts), so that
// `vault help` and `--help` load this alone.
import type { CommandSpec } from './command.ts';

export const finalizeSpec: CommandSpec = {
  name: 'finalize',
  synopsis: '--period YYYY-MM',
  summary: "finalize that month's due invoices that are not held; exit 1 if it is not due",
  details: 'Prints how many were finalized, their total, and how many are held (GET /v1/holds).',
  options: { period: { type: 'string', value: 'YYYY-MM', help: 'the month to finalize (required)' } },
};

// What the `vault` command (scripts/cli) runs for invoicing: argument parsing
// and the work itself; the command opens the database and prints.
import type { CommandContext } from './charge.ts';

export { CliUsageError } from './usage.ts';
export { INVOICING_MIGRATIONS, ensureInvoicingSchema } from './migrations.ts';
export { describeExport, parseExportArgs, runExport, type ExportRequest } from './export.ts';
export { chargeCommand } from './charge.ts';
export { parseRefundStrayArgs, refundStrayCommand } from './refund-stray.ts';
export { finalizeCommand, parseFinalizeArgs } from './finalize.ts';
export { creditGrantCommand, creditReverseCommand, parseCreditGrantArgs, parseCreditReverseArgs } from './credit.ts';
export { parseTokenArgs, runTokenCreate, runTokenList, runTokenRevoke, type CreatedToken, type TokenRequest } from './token.ts';
export type { ExportSummary } from '../exports/index.ts';

/** `vault charge` and `vault finalize`: parse `args`, do the work, print through `ctx.out`; the exit status. */
export type InvoicingCommand = (args: string[], ctx: CommandContext) => Promise<number>;
export { firstOpenMonth, type OpenMonth } from '../billing/final-months.ts';
export { foldAllUsageChanges } from '../billing/usage-days.ts';
export { loadPriceBook } from '../billing/price-book-file.ts';
export { deleteFinalAggregates } from '../billing/aggregate-months.ts';

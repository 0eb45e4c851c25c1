// `vault credit reverse ID [--amount X] --reason TEXT`: takes back part or all
// of what is left of grant ID, once, through the same code as
// POST /v1/accounts/:account_id/credits/:credit_id/reverse (credit-reversal.ts).
import { parseArgs } from 'node:util';
import { CreditGrantId, CreditReversalRequest } from '@vault/contracts';
import { createBilling } from '../billing/service.ts';
import { ReversalRefused } from '../billing/credit-reversal.ts';
import { loadBilledPriceBook } from '../billing/price-book-file.ts';
import type { CommandContext } from './charge.ts';
import { ensureInvoicingSchema } from './migrations.ts';
import { CliUsageError } from './usage.ts';

export interface CreditReverseArgs {
  grantId: string;
  request: CreditReversalRequest;
}

/** `ID [--amount 10.00] --reason TEXT`; throws CliUsageError naming the argument. */
export function parseCreditReverseArgs(args: string[]): CreditReverseArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: { amount: { type: 'string' }, reason: { type: 'string' } },
    });
  } catch (err) {
    throw new CliUsageError(`credit reverse: ${(err as Error).message}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new CliUsageError('credit reverse: the grant id is required (as `vault credit grant` printed it)');
  if (positionals.length > 1) throw new CliUsageError(`credit reverse: unexpected argument ${positionals[1]}`);
  const id = CreditGrantId.safeParse(positionals[0]);
  if (!id.success) throw new CliUsageError(`credit reverse: ID ${id.error.issues[0]!.message}`);
  if (values.reason === undefined) throw new CliUsageError('credit reverse: --reason is required');
  const request = CreditReversalRequest.safeParse({
    reason: values.reason,
    ...(values.amount === undefined ? {} : { amount: values.amount }),
  });
  if (!request.success) {
    const issue = request.error.issues[0]!;
    throw new CliUsageError(`credit reverse: --${String(issue.path[0])} ${issue.message}`);
  }
  return { grantId: id.data, request: request.data };
}

/**
 * Reverses and prints what it did and the balance; the same reversal again
 * prints that nothing changed (exit 0). Exit 1: no such grant, more than is
 * left of it, or reversed already with another amount or reason. Waits for a
 * finalize run applying credit to end (saying so) rather than fail.
 */
export async function creditReverseCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { grantId, request } = parseCreditReverseArgs(args);
  await ensureInvoicingSchema(ctx.pool);
  const prices = await loadBilledPriceBook(ctx.pool, ctx.settings.PRICE_BOOK, ctx.settings.GATEWAY_MINIMUM_CHARGE);
  const billing = createBilling({ pool: ctx.pool, prices, graceHours: ctx.settings.INVOICE_GRACE_HOURS, log: ctx.log });
  // Grant ids are unique across accounts: the grant names its account.
  const { rows } = await ctx.pool.query<{ account_id: string }>(
    `select account_id from invoicing.credit_entries where grant_id = $1 and kind = 'grant'`,
    [grantId],
  );
  const accountId = rows[0]?.account_id;
  if (accountId === undefined) {
    ctx.out(`nothing reversed: no grant ${grantId} (the id \`vault credit grant\` printed, or credits.csv's grant_id)`);
    return 1;
  }
  let result;
  try {
    result = await billing.reverseCredit(accountId, grantId, request, {
      log: ctx.log,
      onWait: () => ctx.log.info('credit.reverse_waiting', { grant_id: grantId, for: 'a finalize run to end' }),
    });
  } catch (err) {
    if (!(err instanceof ReversalRefused)) throw err;
    ctx.out(`nothing reversed: ${err.message}`);
    return 1;
  }
  const r = result.reversal;
  if (result.outcome === 'conflict') {
    ctx.out(
      `nothing reversed: credit ${grantId} was already reversed on ${r.reversed_at} with another ${result.differs.join(', ')} ` +
        `(${r.amount} ${r.currency} taken back: ${r.reason}); a grant is reversed once`,
    );
    return 1;
  }
  const { credit, currency } = await billing.balance(accountId);
  ctx.out(
    result.outcome === 'created'
      ? `reversed ${r.amount} ${r.currency} of credit ${grantId} (granted ${r.granted} ${r.currency} to ${r.account_id}): ${r.reason}; balance now ${credit} ${currency}`
      : `credit ${grantId} was already reversed on ${r.reversed_at} (${r.amount} ${r.currency} taken back from ${r.account_id}); nothing changed; balance ${credit} ${currency}`,
  );
  return 0;
}

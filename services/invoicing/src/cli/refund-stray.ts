// `vault refund-stray INVOICE_ID`: the operator's remedy for an invoice held by a stray payment
// (charging/stray-refund.ts): refunds what of it the gateway would take now, or says why not.
import { parseArgs } from 'node:util';
import { chargingConfig } from '../charging/config.ts';
import { refundGateway } from '../charging/refund-gateway.ts';
import { refundStray } from '../charging/stray-refund.ts';
import type { CommandContext } from './charge.ts';
import { ensureInvoicingSchema } from './migrations.ts';
import { CliUsageError } from './usage.ts';

/** The invoice id, the one argument; a usage error names what is wrong. */
export function parseRefundStrayArgs(args: string[]): { invoiceId: string } {
  let positionals;
  try {
    ({ positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: {} }));
  } catch (err) {
    throw new CliUsageError(`refund-stray: ${(err as Error).message}`);
  }
  const [invoiceId, extra] = positionals;
  if (invoiceId === undefined || invoiceId === '') throw new CliUsageError('refund-stray: which invoice? give its id');
  if (extra !== undefined) throw new CliUsageError(`refund-stray: unexpected argument ${extra}`);
  return { invoiceId };
}

/**
 * Prints what it refunded, or why nothing was: exit 0 when refunded (or the refund is pending at the
 * gateway) or already given back in full (the next charging pass releases the invoice, or did), 1 when
 * refused (an open dispute, no stray, the gateway) or the refund failed (its status and reason named).
 */
export async function refundStrayCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { invoiceId } = parseRefundStrayArgs(args);
  await ensureInvoicingSchema(ctx.pool);
  const charging = await chargingConfig(ctx.settings, ctx.pool);
  const gateway = { ...charging.gateway, ...refundGateway(charging.stripe) };
  const result = await refundStray({ pool: ctx.pool, gateway, log: ctx.log }, invoiceId);
  if (result.outcome === 'refunded') {
    ctx.out(result.message);
    return 0;
  }
  ctx.out(`nothing refunded: ${result.message}`);
  return result.reason === 'given_back' ? 0 : 1;
}

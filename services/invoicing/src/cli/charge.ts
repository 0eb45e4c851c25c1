import { parseArgs } from 'node:util';
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import type { InvoicingSettings } from '../config.ts';
import { chargePass, type PassReport } from '../charging/charger.ts';
import { loadBilledPriceBook } from '../billing/price-book-file.ts';
import { chargingConfig } from '../charging/config.ts';
import { ensureInvoicingSchema } from './migrations.ts';
import { CliUsageError } from './usage.ts';

/** What `vault` gives a command of invoicing's: the database, settings, log, and where its lines go. */
export interface CommandContext {
  pool: pg.Pool;
  settings: InvoicingSettings;
  log: Logger;
  out: (line: string) => void;
}

/**
 * `vault charge`: one charging pass, as the app's loop runs every
 * CHARGE_EVERY_SECONDS; prints what it did. Exit 1 when an invoice was left
 * for a later pass (the gateway did not answer, or a failure here).
 */
export async function chargeCommand(args: string[], ctx: CommandContext): Promise<number> {
  try {
    parseArgs({ args, strict: true, allowPositionals: false, options: {} });
  } catch (err) {
    throw new CliUsageError(`charge: ${(err as Error).message}`);
  }
  await ensureInvoicingSchema(ctx.pool);
  // What is too small to charge is the price book's currency's minimum (GATEWAY_MINIMUM_CHARGE where Stripe publishes none).
  await loadBilledPriceBook(ctx.pool, ctx.settings.PRICE_BOOK, ctx.settings.GATEWAY_MINIMUM_CHARGE);
  const charging = await chargingConfig(ctx.settings, ctx.pool);
  const report = await chargePass({ pool: ctx.pool, gateway: charging.gateway, retrySchedule: charging.retrySchedule, log: ctx.log });
  ctx.out(describePass(report));
  return report.errors > 0 ? 1 : 0;
}

/** "charged 3 invoice(s): 1 paid, 2 declined; 2 past_due (1 with no card on file); 0 left for a later pass" */
function describePass(r: PassReport): string {
  return (
    `charged ${r.charged} invoice(s): ${r.paid} paid, ${r.declined} declined; ` +
    `${r.pastDue} past_due (${r.noCard} with no card on file); ${r.errors} left for a later pass after an error`
  );
}

import { chargeCommand as charge } from '@vault/invoicing/cli';
import type { CommandSpec } from './command.ts';
import { runInvoicingCommand } from './finalize.ts';

export const chargeSpec: CommandSpec = {
  name: 'charge',
  summary: 'one charging pass: charge finalized invoices that are due to the card on file; exit 1 if any was left for later',
  details: 'As the invoicing app does every CHARGE_EVERY_SECONDS, through the gateway of GATEWAY_*.',
};

/** `vault charge`. */
export const chargeCommand = (args: string[]) => runInvoicingCommand(chargeSpec, charge, args);

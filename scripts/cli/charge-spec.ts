// `vault charge`: its usage and options, apart from what it does (charge.ts), so that
// `vault help` and `--help` load this alone.
import type { CommandSpec } from './command.ts';

export const chargeSpec: CommandSpec = {
  name: 'charge',
  summary: 'one charging pass: charge finalized invoices that are due to the card on file; exit 1 if any was left for later',
  details: 'As the invoicing app does every CHARGE_EVERY_SECONDS, through the gateway of GATEWAY_*.',
};

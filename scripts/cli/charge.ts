import { chargeCommand as charge } from '@vault/invoicing/cli';
import { runInvoicingCommand } from './finalize.ts';
import { chargeSpec } from './charge-spec.ts';

/** `vault charge`. */
export const chargeCommand = (args: string[]) => runInvoicingCommand(chargeSpec, charge, args);

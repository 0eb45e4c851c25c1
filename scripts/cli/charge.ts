import { chargeCommand as charge } from '@vault/invoicing/cli';
import { runInvoicingCommand } from './finalize.ts';

/** `vault charge`. */
export const chargeCommand = (args: string[]) => runInvoicingCommand(charge, args);

import { parseRefundStrayArgs, refundStrayCommand as refundStray } from '@vault/invoicing/cli';
import { runInvoicingCommand } from './finalize.ts';
import { refundStraySpec } from './refund-stray-spec.ts';

/** `vault refund-stray INVOICE_ID`: the id is checked before the database is opened. */
export const refundStrayCommand = (args: string[]) => runInvoicingCommand(refundStraySpec, refundStray, args, parseRefundStrayArgs);

// invoice.finalized for each invoice a finalize chunk inserts, in its
// transaction: the notices and their emails as the outbox records them
// (recordNotices), sent through COPY, which costs the server and this process
// less than the outbox's arrays. No notice of these can exist yet (its id
// follows from an invoice this transaction has just inserted), so the
// outbox's "left as it was" never applies; were one there, the chunk fails.
// And invoice.carried for each small invoice a new invoice of the chunk
// carries (few: through the outbox's statement).
import type pg from 'pg';
import { CopyText } from '@vault/db';
import { EMAILED_TYPES, invoiceNotice } from '../notices/notice.ts';
import { type FinalizedInvoice, recordNotices } from '../notices/outbox.ts';
import type { CarriedInvoice } from './credit-store.ts';
import { copyIn } from './invoice-store.ts';

const COPY_NOTICES = 'copy invoicing.notices (id, type, account_id, event) from stdin';
const COPY_EMAILS = 'copy invoicing.email_deliveries (notice_id, account_id) from stdin';

export async function copyFinalizedNotices(
  client: pg.PoolClient,
  period: string,
  invoices: readonly FinalizedInvoice[],
  at: Date,
): Promise<void> {
  if (invoices.length === 0) return;
  const notices = invoices.map((x) =>
    invoiceNotice(
      'invoice.finalized',
      { id: x.id, accountId: x.account_id, number: x.number, period, currency: x.currency, total: x.total, status: 'finalized' },
      at,
    ),
  );
  const rows = new CopyText(256 * 1024);
  for (const n of notices) rows.text(n.id).text(n.type).text(n.accountId).text(JSON.stringify(n.event)).endRow();
  await copyIn(client, COPY_NOTICES, rows.bytes());
  if (!EMAILED_TYPES.includes('invoice.finalized')) return;
  const emails = new CopyText();
  for (const n of notices) emails.text(n.id).text(n.accountId).endRow();
  await copyIn(client, COPY_EMAILS, emails.bytes());
}

/**
 * invoice.carried (beyond api.md's list) for each small invoice made `carried`
 * in this transaction, at the instant the invoice carrying it was finalized.
 * Its id is the invoice's (`invoice.carried:<invoice>`): an invoice is carried
 * once, so a finalize run again, or a chunk retried, never tells it twice.
 * Not emailed: the carrying invoice's own email and its carried line say it.
 */
export async function recordCarriedNotices(client: pg.PoolClient, carried: readonly CarriedInvoice[], at: Date): Promise<void> {
  await recordNotices(
    client,
    carried.map(({ carriedBy, ...facts }) =>
      invoiceNotice('invoice.carried', facts, at, {
        carried_by: { invoice_id: carriedBy.id, number: carriedBy.number, period: carriedBy.period },
      }),
    ),
  );
}

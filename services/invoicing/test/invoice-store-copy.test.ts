// Finalize writes invoices, lines, notices and emails through COPY's text
// format: every value must reach the table exactly as given, whatever
// characters it holds, and a null must stay null.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withTransaction } from '@vault/db';
import type { TestDatabase } from '@vault/testkit';
import { copyFinalizedNotices } from '../src/billing/finalize-notices.ts';
import { ensureLinesMonth, finalizedInvoice, insertInvoices, type NewInvoice } from '../src/billing/invoice-store.ts';
import { invoiceId } from '../src/domain/invoice.ts';
import { parsePeriod } from '../src/domain/period.ts';
import { billingDatabase } from './seed.ts';

const period = parsePeriod('2026-10');
// A backslash, a tab, a newline, a return, COPY's own null marker and end-of-data line, and a character beyond U+FFFF.
const AWKWARD = 'a\\b\tc\nd\re \\N \\. 𝔘';

describe('finalize writes through COPY', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
  });
  after(async () => {
    await db.drop();
  });

  test('values holding backslashes, tabs, newlines, \\N and characters beyond U+FFFF are stored exactly; nulls stay null', async () => {
    const account = `acct-${AWKWARD}`;
    const invoice: NewInvoice = {
      id: invoiceId(account, period.key),
      number: '2026-10-000001',
      account_id: account,
      currency: 'USD',
      subtotal: '-1.25',
      credit_applied: '0.00',
      total: '0.00',
      creditUses: [],
      lines: [
        {
          app_id: `app-${AWKWARD}`,
          kind: 'dyno',
          key: AWKWARD,
          product: `dyno:${AWKWARD}`,
          quantity: '0.5000000',
          unit_price: '25.00',
          amount: '12.50',
          description: `web ${AWKWARD}`,
          ms: 1_339_200_000,
        },
        {
          app_id: `app-${AWKWARD}`,
          kind: 'adjustment',
          key: 'k',
          product: `addon:${AWKWARD}`,
          quantity: '-0.1000000',
          unit_price: null,
          amount: '-13.75',
          description: AWKWARD,
          adjusts: '2026-09',
          ms: -267_840_000,
        },
      ],
    };
    await withTransaction(db.pool, async (client) => {
      await ensureLinesMonth(client, period.key);
      await insertInvoices(client, period, [invoice], new Date('2026-11-04T00:00:00Z'));
      await copyFinalizedNotices(client, period.key, [invoice], new Date('2026-11-09T00:00:00Z'));
    });

    const stored = await finalizedInvoice(db.pool, { id: invoice.id });
    assert.equal(stored?.account_id, account);
    assert.equal(stored?.number, invoice.number);
    assert.deepEqual([stored?.subtotal, stored?.credit_applied, stored?.total, stored?.status], ['-1.25', '0.00', '0.00', 'finalized']);
    assert.deepEqual(
      stored?.lines,
      invoice.lines.map(({ ms: _ms, ...line }) => line),
    );
    const { rows: ms } = await db.pool.query<{ ms: string }>(
      'select ms::text from invoicing.invoice_lines where invoice_id = $1 order by position',
      [invoice.id],
    );
    assert.deepEqual(
      ms.map((r) => r.ms),
      ['1339200000', '-267840000'],
    );
    // Written beside the lines (not by the parent's trigger): each app of the invoice once.
    const { rows: apps } = await db.pool.query('select app_id, invoice_id from invoicing.invoice_apps');
    assert.deepEqual(apps, [{ app_id: `app-${AWKWARD}`, invoice_id: invoice.id }]);
    const { rows: notices } = await db.pool.query<{ account_id: string; event: { data: { account_id: string } } }>(
      `select n.account_id, n.event from invoicing.notices n join invoicing.email_deliveries e on e.notice_id = n.id`,
    );
    assert.deepEqual(
      notices.map((n) => [n.account_id, n.event.data.account_id]),
      [[account, account]],
    );
  });
});

// Finance review: a month with held accounts exported as complete (a TOTAL row,
// nothing about the holds), and when a hold cleared the account's invoice
// joined the month, so the same export later had another row and TOTAL. The
// export is not refused for it: the summary on stderr and the control row
// (in a column it leaves empty) say how many accounts are held and that the
// file changes when they are released. The control figures name the currency.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { describeExport } from '../src/cli/export.ts';
import { exportCsv, type ExportSummary, parseCsv } from '../src/exports/index.ts';
import { ADMIN, exportsDatabase, INVOICE_HEADER, LINE_HEADER, unusedBilling } from './exports-fixture.ts';
import { seedOwners, seedUsage } from './seed.ts';

const NOTE = '1 account held, not in this file: the export changes when the holds clear (GET /v1/holds?period=2026-10)';

async function exported(db: TestDatabase, kind: 'invoices' | 'lines', period: string) {
  let text = '';
  let summary: ExportSummary | undefined;
  for await (const chunk of exportCsv(db.pool, kind, period, { prices: loadPriceBook(), onDone: (s) => (summary = s) })) text += chunk;
  return { records: parseCsv(text), summary: summary! };
}

describe('exports of a month with held accounts', () => {
  let db: TestDatabase;
  let http: FastifyInstance;

  before(async () => {
    db = await exportsDatabase();
    // An account with no invoice of October whose usage has no price: held (GET /v1/holds?period=2026-10).
    await seedOwners(db.pool, [{ app: 'held-app', account: 'acct-held', from: '2026-10-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      { app: 'held-app', kind: 'dyno', key: 'web.1', product: 'dyno:quantum-9x', from: '2026-10-03T00:00:00Z', to: '2026-10-05T00:00:00Z' },
    ]);
    const log = memoryLogger({ app: 'invoicing' });
    http = createHttpApp(log);
    invoicingRoutes(http, { pool: db.pool, billing: unusedBilling, prices: loadPriceBook(), adminToken: ADMIN, log });
    await http.ready();
  });
  after(async () => {
    await http.close();
    await db.drop();
  });

  test('invoices.csv and lines.csv: exported, the control row and the summary name the held account and the currency', async () => {
    const invoices = await exported(db, 'invoices', '2026-10');
    assert.deepEqual(invoices.summary.held, { accounts: 1, ownerless: false });
    const control = invoices.records.at(-1)!;
    assert.equal(control.length, INVOICE_HEADER.length, 'the columns stay');
    assert.deepEqual(control, ['TOTAL', '3', '', '', NOTE, 'USD', '74.78', '0.00', '74.78', '0.00', '', '5', '0.00']);
    assert.equal(
      describeExport(invoices.summary),
      'exported invoices.csv for 2026-10: 3 rows, control total 74.78 USD, subtotal 74.78, credit_applied 0.00, amount_refunded 0.00, ' +
        `line_count 5, amount_disputed 0.00; ${NOTE}`,
    );

    const lines = await exported(db, 'lines', '2026-10');
    const lineControl = lines.records.at(-1)!;
    assert.equal(lineControl.length, LINE_HEADER.length, 'the columns stay');
    assert.equal(lineControl[LINE_HEADER.indexOf('description')], NOTE);
    assert.equal(lineControl[LINE_HEADER.indexOf('currency')], 'USD');
    assert.equal(describeExport(lines.summary), `exported lines.csv for 2026-10: 5 rows, control total 74.78 USD; ${NOTE}`);

    const http200 = await http.inject({
      method: 'GET',
      url: '/v1/exports/lines.csv?period=2026-10',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(http200.statusCode, 200, http200.body);
    assert.equal(parseCsv(http200.body).at(-1)![LINE_HEADER.indexOf('description')], NOTE);
  });

  test('a month with nothing held: no note, the summary as before with its currency', async () => {
    const september = await exported(db, 'invoices', '2026-09');
    assert.deepEqual(september.summary.held, { accounts: 0, ownerless: false });
    assert.deepEqual(september.records.at(-1), ['TOTAL', '1', '', '', '', 'USD', '99.99', '0.00', '99.99', '0.00', '', '1', '0.00']);
    assert.equal(
      describeExport(september.summary),
      'exported invoices.csv for 2026-09: 1 row, control total 99.99 USD, subtotal 99.99, credit_applied 0.00, amount_refunded 0.00, ' +
        'line_count 1, amount_disputed 0.00',
    );
  });
});

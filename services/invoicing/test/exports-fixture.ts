// The finance exports' fixture: finalized invoices inserted directly (finalizing
// is billing's business, tested there), the expected CSV and its helpers.
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { TestDatabase } from '@vault/testkit';
import type { Billing } from '../src/billing/types.ts';
import { Money } from '../src/domain/money.ts';
import { parseCsv, unguardText } from '../src/exports/index.ts';
import { billingDatabase } from './seed.ts';

// Finalized invoices as fixture rows, inserted directly (finalizing is billing's
// business, tested there). The text is as awkward as people make it.
export interface FixtureLine {
  app: string;
  kind: 'dyno' | 'addon' | 'adjustment';
  key: string;
  product: string;
  quantity: string;
  unitPrice: string | null;
  amount: string | null;
  description: string;
  adjusts?: string;
}
export interface FixtureInvoice {
  id: string;
  number: string;
  account: string;
  period: string;
  status: 'finalized' | 'paid' | 'past_due';
  total: string;
  finalizedAt: string;
  lines: FixtureLine[];
}

export const OCT_1: FixtureInvoice = {
  id: 'inv-oct-1',
  number: '2026-10-000001',
  account: 'acct-1',
  period: '2026-10',
  status: 'finalized',
  total: '24.78',
  finalizedAt: '2026-11-04T00:00:01.5Z',
  lines: [
    {
      app: 'shop, "main"',
      kind: 'dyno',
      key: 'web.1',
      product: 'dyno:standard-1x',
      quantity: '1.0000000',
      unitPrice: '25.00',
      amount: '25.00',
      description: 'web.1 standard-1x',
    },
    {
      app: 'shop-db',
      kind: 'addon',
      key: 'addon-pg1',
      product: 'addon:heroku-postgresql:essential-0',
      quantity: '0.6774194',
      unitPrice: '5.00',
      amount: '3.39',
      description: 'Postgres "essential-0",\nline two\r\nline three',
    },
    {
      app: 'shop-web',
      kind: 'adjustment',
      key: 'web.1',
      product: 'dyno:standard-1x',
      quantity: '-0.1444444',
      unitPrice: '25.00',
      amount: '-3.61',
      adjusts: '2026-09',
      description: '=HYPERLINK("http://evil.example","click")',
    },
  ],
};
export const OCT_2: FixtureInvoice = {
  id: 'inv-oct-2',
  number: '2026-10-000002',
  account: 'acct-2',
  period: '2026-10',
  status: 'paid',
  total: '0.00',
  finalizedAt: '2026-11-04T00:00:02Z',
  lines: [
    {
      app: 'idle',
      kind: 'dyno',
      key: 'web.1',
      product: 'dyno:basic',
      quantity: '0.0000000',
      unitPrice: '7.00',
      amount: '0.00',
      description: 'tab\tinside',
    },
  ],
};
export const OCT_3: FixtureInvoice = {
  id: 'inv-oct-3',
  number: '2026-10-000003',
  account: '@acct-3',
  period: '2026-10',
  status: 'past_due',
  total: '50.00',
  finalizedAt: '2026-11-04T00:00:03Z',
  lines: [
    {
      app: '-app',
      kind: 'dyno',
      key: '+1',
      product: 'dyno:standard-2x',
      quantity: '1.0000000',
      unitPrice: '50.00',
      amount: '50.00',
      description: "'quoted already",
    },
  ],
};
export const SEP_1: FixtureInvoice = {
  id: 'inv-sep-1',
  number: '2026-09-000001',
  account: 'acct-1',
  period: '2026-09',
  status: 'paid',
  total: '99.99',
  finalizedAt: '2026-10-04T00:00:00Z',
  lines: [
    {
      app: 'shop-web',
      kind: 'dyno',
      key: 'web.1',
      product: 'dyno:performance-m',
      quantity: '0.4000000',
      unitPrice: '250.00',
      amount: '99.99',
      description: 'september',
    },
  ],
};
export const OCTOBER = [OCT_1, OCT_2, OCT_3];

export async function insertInvoice(pool: pg.Pool, inv: FixtureInvoice): Promise<void> {
  await pool.query(
    `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total, finalized_at)
     values ($1, $2, $3, ($3 || '-01T00:00:00Z')::timestamptz, ($3 || '-01T00:00:00Z')::timestamptz + interval '1 month',
             $4, $5, 'USD', $6, $7)`,
    [inv.id, inv.account, inv.period, inv.number, inv.status, inv.total, inv.finalizedAt],
  );
  await pool.query('select invoicing.ensure_lines_month($1)', [inv.period]);
  for (const [i, l] of inv.lines.entries()) {
    await pool.query(
      `insert into invoicing.invoice_lines (invoice_number, invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, adjusts, ms)
       values ($12, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0)`,
      [inv.id, i + 1, l.app, l.kind, l.key, l.product, l.quantity, l.unitPrice, l.amount, l.description, l.adjusts ?? null, inv.number],
    );
  }
}

export const INVOICE_HEADER = [
  'number',
  'id',
  'account_id',
  'period',
  'status',
  'currency',
  'subtotal',
  'credit_applied',
  'total',
  'amount_refunded',
  'finalized_at',
  'line_count',
  'amount_disputed',
];
export const LINE_HEADER = [
  'number',
  'invoice_id',
  'account_id',
  'period',
  'position',
  'app_id',
  'kind',
  'key',
  'product',
  'quantity',
  'unit_price',
  'amount',
  'adjusts',
  'description',
  'currency',
];
export const INVOICE_TEXT = new Set(['number', 'id', 'account_id', 'period', 'status', 'currency']);
export const LINE_TEXT = new Set([
  'number',
  'invoice_id',
  'account_id',
  'period',
  'app_id',
  'kind',
  'key',
  'product',
  'adjusts',
  'description',
  'currency',
]);

export const expectedInvoiceRow = (inv: FixtureInvoice) => [
  inv.number,
  inv.id,
  inv.account,
  inv.period,
  inv.status,
  'USD',
  // Written without a subtotal, as before migration 007: the subtotal is the total.
  inv.total,
  '0.00',
  inv.total,
  '0.00',
  new Date(inv.finalizedAt).toISOString(),
  String(inv.lines.length),
  '0.00',
];
export const expectedLineRows = (inv: FixtureInvoice) =>
  inv.lines.map((l, i) => [
    inv.number,
    inv.id,
    inv.account,
    inv.period,
    String(i + 1),
    l.app,
    l.kind,
    l.key,
    l.product,
    l.quantity,
    l.unitPrice ?? '',
    l.amount ?? '',
    l.adjusts ?? '',
    l.description,
    'USD',
  ]);

/** Header, data rows (text fields unguarded), control row. */
export function splitExport(csv: string, header: string[], textColumns: Set<string>) {
  const records = parseCsv(csv);
  assert.deepEqual(records[0], header);
  const data = records.slice(1, -1).map((r) => r.map((f, i) => (textColumns.has(header[i]!) ? unguardText(f) : f)));
  const control = records.at(-1)!;
  return { raw: records.slice(1, -1), data, control };
}

/** Asserts the control row: TOTAL, the row count, the column sums, the currency (USD), nothing else. */
export function assertControlRow(control: string[], rows: string[][], header: string[], sums: Record<string, number>) {
  assert.equal(control.length, header.length);
  const expected = header.map(() => '');
  expected[0] = 'TOTAL';
  expected[1] = String(rows.length);
  expected[header.indexOf('currency')] = 'USD';
  for (const [column, decimals] of Object.entries(sums)) {
    const i = header.indexOf(column);
    expected[i] = rows.reduce((s, r) => s.plus(r[i] || '0'), new Money(0)).toFixed(decimals);
  }
  assert.deepEqual(control, expected);
}

export async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) text += chunk;
  return text;
}

export const ADMIN = 'test-admin-token-exports-0123456789';
export const unusedBilling = new Proxy({} as Billing, {
  get: () => () => {
    throw new Error('the exports never use billing');
  },
});

/** A database holding the fixture invoices, out of number order on purpose, and another month beside. */
export async function exportsDatabase(): Promise<TestDatabase> {
  const db = await billingDatabase();
  for (const inv of [OCT_3, SEP_1, OCT_1, OCT_2]) await insertInvoice(db.pool, inv);
  return db;
}

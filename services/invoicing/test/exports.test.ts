import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually, type TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { createToken } from '../src/access/tokens.ts';
import type { Billing } from '../src/billing/types.ts';
import { Money } from '../src/domain/money.ts';
import { csvField, csvRecord, exportCsv, parseCsv, unguardText, type ExportKind } from '../src/exports/index.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { billingDatabase } from './seed.ts';

// Finalized invoices as fixture rows, inserted directly (finalizing is billing's
// business, tested there). The text is as awkward as people make it.
interface FixtureLine {
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
interface FixtureInvoice {
  id: string;
  number: string;
  account: string;
  period: string;
  status: 'finalized' | 'paid' | 'past_due';
  total: string;
  finalizedAt: string;
  lines: FixtureLine[];
}

const OCT_1: FixtureInvoice = {
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
const OCT_2: FixtureInvoice = {
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
const OCT_3: FixtureInvoice = {
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
const SEP_1: FixtureInvoice = {
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
const OCTOBER = [OCT_1, OCT_2, OCT_3];

async function insertInvoice(pool: pg.Pool, inv: FixtureInvoice): Promise<void> {
  await pool.query(
    `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total, finalized_at)
     values ($1, $2, $3, ($3 || '-01T00:00:00Z')::timestamptz, ($3 || '-01T00:00:00Z')::timestamptz + interval '1 month',
             $4, $5, 'USD', $6, $7)`,
    [inv.id, inv.account, inv.period, inv.number, inv.status, inv.total, inv.finalizedAt],
  );
  for (const [i, l] of inv.lines.entries()) {
    await pool.query(
      `insert into invoicing.invoice_lines (invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, adjusts, ms)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0)`,
      [inv.id, i + 1, l.app, l.kind, l.key, l.product, l.quantity, l.unitPrice, l.amount, l.description, l.adjusts ?? null],
    );
  }
}

const INVOICE_HEADER = [
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
];
const LINE_HEADER = [
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
];
const INVOICE_TEXT = new Set(['number', 'id', 'account_id', 'period', 'status', 'currency']);
const LINE_TEXT = new Set(['number', 'invoice_id', 'account_id', 'period', 'app_id', 'kind', 'key', 'product', 'adjusts', 'description']);

const expectedInvoiceRow = (inv: FixtureInvoice) => [
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
];
const expectedLineRows = (inv: FixtureInvoice) =>
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
  ]);

/** Header, data rows (text fields unguarded), control row. */
function splitExport(csv: string, header: string[], textColumns: Set<string>) {
  const records = parseCsv(csv);
  assert.deepEqual(records[0], header);
  const data = records.slice(1, -1).map((r) => r.map((f, i) => (textColumns.has(header[i]!) ? unguardText(f) : f)));
  const control = records.at(-1)!;
  return { raw: records.slice(1, -1), data, control };
}

/** Asserts the control row: TOTAL, the row count, the column sums, nothing else. */
function assertControlRow(control: string[], rows: string[][], header: string[], sums: Record<string, number>) {
  assert.equal(control.length, header.length);
  const expected = header.map(() => '');
  expected[0] = 'TOTAL';
  expected[1] = String(rows.length);
  for (const [column, decimals] of Object.entries(sums)) {
    const i = header.indexOf(column);
    expected[i] = rows.reduce((s, r) => s.plus(r[i] || '0'), new Money(0)).toFixed(decimals);
  }
  assert.deepEqual(control, expected);
}

async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) text += chunk;
  return text;
}

const ADMIN = 'test-admin-token-exports-0123456789';
const unusedBilling = new Proxy({} as Billing, {
  get: () => () => {
    throw new Error('the exports never use billing');
  },
});

describe('finance exports', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  let log: ReturnType<typeof memoryLogger>;
  let financeToken: string;
  let accountToken: string;
  const get = (url: string, token?: string) =>
    http.inject({ method: 'GET', url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  before(async () => {
    db = await billingDatabase();
    // Out of number order on purpose, and another month beside.
    for (const inv of [OCT_3, SEP_1, OCT_1, OCT_2]) await insertInvoice(db.pool, inv);
    log = memoryLogger({ app: 'invoicing' });
    http = createHttpApp(log);
    invoicingRoutes(http, { pool: db.pool, billing: unusedBilling, prices: loadPriceBook(), adminToken: ADMIN, log });
    await http.ready();
    financeToken = await createToken(db.pool, { kind: 'finance' });
    accountToken = await createToken(db.pool, { kind: 'account', accountId: 'acct-1' });
  });
  after(async () => {
    await http.close();
    await db.drop();
  });

  test('invoices.csv: one row per invoice of the period in number order, every status, line counts, then the control row', async () => {
    const res = await get('/v1/exports/invoices.csv?period=2026-10', financeToken);
    assert.equal(res.statusCode, 200, res.body);
    const { data, control } = splitExport(res.body, INVOICE_HEADER, INVOICE_TEXT);
    assert.deepEqual(data, OCTOBER.map(expectedInvoiceRow));
    assert.equal(data[0]![10], '2026-11-04T00:00:01.500Z');
    assertControlRow(control, data, INVOICE_HEADER, { subtotal: 2, credit_applied: 2, total: 2, amount_refunded: 2, line_count: 0 });
    assert.deepEqual(control, ['TOTAL', '3', '', '', '', '', '74.78', '0.00', '74.78', '0.00', '', '5']);
    assert.ok(!res.body.includes('2026-09'), 'September is not in October’s export');
  });

  test('lines.csv: awkward text round-trips, a credit stays -3.61, the control row sums the amounts and counts the rows', async () => {
    const res = await get('/v1/exports/lines.csv?period=2026-10', ADMIN);
    assert.equal(res.statusCode, 200, res.body);
    const { data, control } = splitExport(res.body, LINE_HEADER, LINE_TEXT);
    assert.deepEqual(data, OCTOBER.flatMap(expectedLineRows));
    assert.ok(res.body.includes('"shop, ""main"""'), 'a comma and quotes: quoted, quotes doubled');
    assert.ok(res.body.includes('"Postgres ""essential-0"",\nline two\r\nline three"'), 'line breaks kept inside quotes');
    assertControlRow(control, data, LINE_HEADER, { amount: 2 });
    assert.equal(control[1], '5');
    assert.equal(control[11], '74.78');
    assert.ok(!data.some((r) => r[3] === '2026-09'));
  });

  test('a text field a spreadsheet would run as a formula gets a leading apostrophe; money and quantities do not', async () => {
    const res = await get('/v1/exports/lines.csv?period=2026-10', financeToken);
    const { raw } = splitExport(res.body, LINE_HEADER, LINE_TEXT);
    const credit = raw[2]!;
    assert.equal(credit[13], `'=HYPERLINK("http://evil.example","click")`);
    assert.equal(credit[11], '-3.61');
    assert.equal(credit[9], '-0.1444444');
    const third = raw[4]!;
    assert.equal(third[2], "'@acct-3");
    assert.equal(third[5], "'-app");
    assert.equal(third[7], "'+1");
    assert.equal(third[13], "''quoted already", 'a leading apostrophe is doubled, so dropping one is always right');
    assert.equal(raw[3]![13], 'tab\tinside', 'only the first character matters');
    const invoices = parseCsv((await get('/v1/exports/invoices.csv?period=2026-10', financeToken)).body);
    assert.equal(invoices[3]![2], "'@acct-3");
  });

  test('a period with no invoices gives the header and a control row of 0 and 0.00', async () => {
    const invoices = await get('/v1/exports/invoices.csv?period=2027-01', ADMIN);
    assert.equal(invoices.body, `${INVOICE_HEADER.join(',')}\r\nTOTAL,0,,,,,0.00,0.00,0.00,0.00,,0\r\n`);
    const lines = await get('/v1/exports/lines.csv?period=2027-01', ADMIN);
    assert.equal(lines.body, `${LINE_HEADER.join(',')}\r\nTOTAL,0,,,,,,,,,,0.00,,\r\n`);
  });

  test('admin and finance get text/csv as an attachment named after the file and period', async () => {
    for (const [kind, token] of [
      ['invoices', ADMIN],
      ['lines', financeToken],
    ] as const) {
      const res = await get(`/v1/exports/${kind}.csv?period=2026-10`, token);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'text/csv; charset=utf-8');
      assert.equal(res.headers['content-disposition'], `attachment; filename="${kind}-2026-10.csv"`);
    }
    assert.ok(
      log.lines.some((l) => /event=export.done kind=lines period=2026-10 rows=5 total=74.78/.test(l)),
      log.lines.join('\n'),
    );
  });

  test('an account token gets 403, no token 401, a missing or bad period 400 naming period', async () => {
    for (const kind of ['invoices', 'lines']) {
      const url = `/v1/exports/${kind}.csv`;
      const forbidden = await get(`${url}?period=2026-10`, accountToken);
      assert.equal(forbidden.statusCode, 403);
      assert.match(forbidden.json().error, /admin or finance/);
      assert.equal((await get(`${url}?period=2026-10`)).statusCode, 401);
      assert.equal((await get(`${url}?period=2026-10`, 'vt_fin_not-a-token')).statusCode, 401);
      for (const query of ['', '?period=2026-13', '?period=October', '?period=2026-10&extra=1']) {
        const bad = await get(`${url}${query}`, financeToken);
        assert.equal(bad.statusCode, 400, query);
        const body = bad.json();
        assert.match(body.error, query.includes('extra') ? /extra/ : /period/, query);
        if (!query.includes('extra')) assert.equal(body.fields[0].field, 'period');
      }
    }
  });

  test('fetching in small batches gives the same bytes, and the generator returns the control figures', async () => {
    for (const kind of ['invoices', 'lines'] as ExportKind[]) {
      const whole = await collect(exportCsv(db.pool, kind, '2026-10'));
      for (const batchSize of [1, 2, 3, 5]) {
        assert.equal(await collect(exportCsv(db.pool, kind, '2026-10', { batchSize })), whole, `${kind} batch ${batchSize}`);
      }
    }
    const chunks = exportCsv(db.pool, 'lines', '2026-10', { batchSize: 2 });
    let next = await chunks.next();
    let pieces = 0;
    while (!next.done) {
      pieces++;
      next = await chunks.next();
    }
    assert.equal(pieces, 1 + 3 + 1, 'header, batches of 2, 2 and 1 rows, control row');
    assert.deepEqual(next.value, { kind: 'lines', period: '2026-10', rows: 5, total: '74.78', sums: { amount: '74.78' } });
  });

  test('an export abandoned midway rolls back and gives its client back to the pool', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const chunks = exportCsv(pool, 'lines', '2026-10', { batchSize: 1 });
      await chunks.next();
      await chunks.next();
      await chunks.return(undefined as never);
      assert.equal(pool.totalCount - pool.idleCount, 0, 'nothing checked out');
      // In a transaction, now() is its start, earlier than this statement's.
      const { rows } = await pool.query<{ in_transaction: boolean }>('select now() <> statement_timestamp() as in_transaction');
      assert.equal(rows[0]!.in_transaction, false, 'the pool’s only client is usable and outside any transaction');
    } finally {
      await pool.end();
    }
  });

  test('a reader that stalls past the idle timeout ends the export without its control row, and the pool recovers', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const chunks = exportCsv(pool, 'lines', '2026-10', { batchSize: 1, idleTimeoutMs: 100 });
      assert.match((await chunks.next()).value as string, /^number,invoice_id,/);
      await new Promise((r) => setTimeout(r, 600));
      const after: string[] = [];
      // The server ended the connection: the export fails, and never reaches its control row.
      await assert.rejects(async () => {
        for (let next = await chunks.next(); !next.done; next = await chunks.next()) after.push(next.value);
      }, /connection/);
      assert.ok(!after.some((chunk) => /^TOTAL/m.test(chunk)), after.join(''));
      assert.equal(pool.totalCount - pool.idleCount, 0, 'nothing checked out');
      assert.equal((await pool.query('select 1 as one')).rows[0].one, 1);
    } finally {
      await pool.end();
    }
  });

  test('a download cut short by the client gives the database client back', { timeout: 60_000 }, async () => {
    // Big enough that the response outlasts the socket's buffers.
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total)
       values ('inv-big', 'acct-big', '2026-11', '2026-11-01Z', '2026-12-01Z', '2026-11-000001', 'USD', 20000.00)`,
    );
    await db.pool.query(
      `insert into invoicing.invoice_lines (invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, ms)
       select 'inv-big', p, 'app', 'dyno', 'web.' || p, 'dyno:basic', 1, 1.00, 1.00, repeat('x', 200), 0 from generate_series(1, 20000) p`,
    );
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const appLog = memoryLogger();
    const app = createHttpApp(appLog);
    invoicingRoutes(app, { pool, billing: unusedBilling, prices: loadPriceBook(), adminToken: ADMIN, log: appLog });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as { port: number };
      const abort = new AbortController();
      const res = await fetch(`http://127.0.0.1:${port}/v1/exports/lines.csv?period=2026-11`, {
        headers: { authorization: `Bearer ${ADMIN}` },
        signal: abort.signal,
      });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      await reader.read();
      abort.abort();
      await eventually('the export to give its client back', () => pool.totalCount > 0 && pool.idleCount === pool.totalCount, 10_000);
      assert.ok(!appLog.lines.some((l) => l.includes('event=export.done')), 'the export was cut short, not finished');
      const again = await fetch(`http://127.0.0.1:${port}/v1/exports/invoices.csv?period=2026-11`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      assert.match(await again.text(), /\r\nTOTAL,1,,,,,20000.00,0.00,20000.00,0.00,,20000\r\n$/);
    } finally {
      await app.close();
      await pool.end();
    }
  });
});

describe('csv fields', () => {
  const cases: [string | null, 'text' | 'value', string][] = [
    [null, 'text', ''],
    ['', 'text', ''],
    ['plain', 'text', 'plain'],
    ['a,b', 'text', '"a,b"'],
    ['say "hi"', 'text', '"say ""hi"""'],
    ['two\nlines', 'text', '"two\nlines"'],
    ['cr\rhere', 'text', '"cr\rhere"'],
    ['=1+1', 'text', "'=1+1"],
    ['+1', 'text', "'+1"],
    ['-1', 'text', "'-1"],
    ['@SUM(A1)', 'text', "'@SUM(A1)"],
    ['\tx', 'text', "'\tx"],
    ['\rx', 'text', `"'\rx"`],
    ["'x", 'text', "''x"],
    ['=a,"b"', 'text', `"'=a,""b"""`],
    ['-3.61', 'value', '-3.61'],
    ['25.00', 'value', '25.00'],
  ];
  for (const [value, kind, expected] of cases) {
    test(`${JSON.stringify(value)} as ${kind} → ${JSON.stringify(expected)}`, () => {
      assert.equal(csvField(value, kind), expected);
      if (value !== null && value !== '') {
        const [[back]] = parseCsv(csvRecord([value], [kind])) as [[string]];
        assert.equal(kind === 'text' ? unguardText(back) : back, value);
      }
    });
  }
});

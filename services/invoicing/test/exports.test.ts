import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { createToken } from '../src/access/tokens.ts';
import { csvField, csvRecord, parseCsv, unguardText } from '../src/exports/index.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import {
  ADMIN,
  assertControlRow,
  expectedInvoiceRow,
  expectedLineRows,
  exportsDatabase,
  INVOICE_HEADER,
  INVOICE_TEXT,
  LINE_HEADER,
  LINE_TEXT,
  OCTOBER,
  splitExport,
  unusedBilling,
} from './exports-fixture.ts';

/** invoices.csv's control row: the decimals of each money column's sum, and line_count's (an integer). */
const INVOICE_SUMS = { subtotal: 2, credit_applied: 2, total: 2, amount_refunded: 2, line_count: 0, amount_disputed: 2 };
describe('finance exports', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  let log: ReturnType<typeof memoryLogger>;
  let financeToken: string;
  let accountToken: string;
  const get = (url: string, token?: string) =>
    http.inject({ method: 'GET', url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  before(async () => {
    db = await exportsDatabase();
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
    assertControlRow(control, data, INVOICE_HEADER, INVOICE_SUMS);
    assert.deepEqual(control, ['TOTAL', '3', '', '', '', 'USD', '74.78', '0.00', '74.78', '0.00', '', '5', '0.00']);
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
    assert.equal(raw[3]![13], 'tab\tinside', 'a TAB not followed by a formula start is left as it is');
    assert.ok(res.body.includes('"tab\tinside"'), 'a text field holding a TAB is quoted');
    const invoices = parseCsv((await get('/v1/exports/invoices.csv?period=2026-10', financeToken)).body);
    assert.equal(invoices[3]![2], "'@acct-3");
  });

  test('a due period with no invoices gives the header and a control row of 0 and 0.00; one not due yet is 409', async () => {
    // August 2026: long past its end + INVOICE_GRACE_HOURS, and no invoice of it.
    const invoices = await get('/v1/exports/invoices.csv?period=2026-08', ADMIN);
    assert.equal(invoices.statusCode, 200, invoices.body);
    assert.equal(invoices.body, `${INVOICE_HEADER.join(',')}\r\nTOTAL,0,,,,USD,0.00,0.00,0.00,0.00,,0,0.00\r\n`);
    const lines = await get('/v1/exports/lines.csv?period=2026-08', ADMIN);
    assert.equal(lines.statusCode, 200, lines.body);
    assert.equal(lines.body, `${LINE_HEADER.join(',')}\r\nTOTAL,0,,,,,,,,,,0.00,,,USD\r\n`);
    // A month to come has no invoices because none can be made yet: not a file that looks like an empty month.
    const next = DateTime.utc().plus({ months: 1 }).toFormat('yyyy-MM');
    for (const kind of ['invoices', 'lines']) {
      const res = await get(`/v1/exports/${kind}.csv?period=${next}`, ADMIN);
      assert.equal(res.statusCode, 409, res.body);
      assert.ok(Number(res.headers['retry-after']) > 72 * 3600, String(res.headers['retry-after']));
      assert.match(
        res.json().error,
        new RegExp(`^${next} is not finalized: it is not due until \\S+ \\(its end plus INVOICE_GRACE_HOURS=72\\)`),
      );
      assert.ok(!res.body.includes('TOTAL'));
    }
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

  test('while a finalize of the month has not completed, invoices.csv and lines.csv are 409 naming it; credits.csv is not held back', async () => {
    // A run counted as started and not completed: running, or stopped midway (finalize-kill.test.ts kills a real one). A due month.
    await db.pool.query(
      `insert into invoicing.finalize_runs (period, run, started, completed, started_at)
       values ('2026-07', gen_random_uuid(), 2, 1, '2026-08-04T00:00:00Z')`,
    );
    try {
      for (const kind of ['invoices', 'lines']) {
        const res = await get(`/v1/exports/${kind}.csv?period=2026-07`, financeToken);
        assert.equal(res.statusCode, 409, res.body);
        assert.equal(res.headers['retry-after'], '30');
        assert.match(res.json().error, /the finalize of 2026-07 that started at 2026-08-04T00:00:00.000Z has not completed/);
      }
      assert.equal((await get('/v1/exports/credits.csv?period=2026-07', financeToken)).statusCode, 200);
      await db.pool.query(`update invoicing.finalize_runs set completed = 2 where period = '2026-07'`);
      assert.equal((await get('/v1/exports/invoices.csv?period=2026-07', financeToken)).statusCode, 200);
    } finally {
      await db.pool.query(`delete from invoicing.finalize_runs where period = '2026-07'`);
    }
  });

  test('invoices.csv ends with amount_disputed: chargebacks withdrawn and not reinstated, summed in the control row', async () => {
    const [first, second] = [OCTOBER[0]!, OCTOBER[1]!];
    await db.pool.query(
      `insert into invoicing.invoice_disputes
         (dispute_id, invoice_id, payment_intent_id, charge_id, amount, currency, withdrawn_at, withdrawn_event, reinstated_at, reinstated_event)
       values ('dp_x1', $1, 'pi_x1', 'ch_x1', 1.25, 'USD', now(), 'evt_x1', null, null),
              ('dp_x2', $2, 'pi_x2', 'ch_x2', 2.00, 'USD', now(), 'evt_x2', now(), 'evt_x2r')`,
      [first.id, second.id],
    );
    try {
      const res = await get('/v1/exports/invoices.csv?period=2026-10', financeToken);
      const { data, control } = splitExport(res.body, INVOICE_HEADER, INVOICE_TEXT);
      assert.equal(INVOICE_HEADER.at(-1), 'amount_disputed');
      assert.deepEqual(
        data.map((r) => [r[1], r.at(-1)]),
        OCTOBER.map((inv) => [inv.id, inv.id === first.id ? '1.25' : '0.00']),
      );
      assert.equal(control.at(-1), '1.25');
      assertControlRow(control, data, INVOICE_HEADER, INVOICE_SUMS);
    } finally {
      await db.pool.query(`delete from invoicing.invoice_disputes where dispute_id in ('dp_x1', 'dp_x2')`);
    }
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
    ['\tx', 'text', `"'\tx"`],
    ['\rx', 'text', `"'\rx"`],
    ["'x", 'text', "''x"],
    ['=a,"b"', 'text', `"'=a,""b"""`],
    ['-3.61', 'value', '-3.61'],
    ['25.00', 'value', '25.00'],
    // Finance review: a cell starts after any separator a spreadsheet may split on (`;` in many locales), not only at the field's start.
    ["web;=cmd|' /C calc'!A0;", 'text', `"web;'=cmd|' /C calc'!A0;"`],
    ['x;=1+1;', 'text', `"x;'=1+1;"`],
    ['a\t=1+1', 'text', `"a\t'=1+1"`],
    ['a;  @SUM(1)', 'text', `"a;'  @SUM(1)"`],
    ['a,+1', 'text', `"a,'+1"`],
    ['a\n-1', 'text', `"a\n'-1"`],
    ['a;\t=1', 'text', `"a;'\t'=1"`],
    ["a;'x", 'text', `"a;''x"`],
    [' =1', 'text', "' =1"],
    ["it's;ok", 'text', `"it's;ok"`],
    ['-1.00', 'value', '-1.00'],
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

describe('csv text fields in a spreadsheet that splits on , ; or TAB', () => {
  const nasty = ["web;=cmd|' /C calc'!A0;", 'x;=1+1;', 'a\t=1+1', 'a;  @SUM(1)', '=a;+b,-c\t@d\r\n=e', "';'=;''", ' ; - ;\t\t='];
  for (const value of nasty) {
    test(`${JSON.stringify(value)}: no cell starts a formula, and unguardText gives it back`, () => {
      const field = csvField(value, 'text');
      const [[back]] = parseCsv(csvRecord([value], ['text'])) as [[string]];
      assert.equal(unguardText(back), value);
      // What a spreadsheet would make of the line, whatever its separator and whether it honours quotes.
      for (const line of [field, back]) {
        for (const cell of line.split(/[,;\t\r\n]/)) {
          assert.doesNotMatch(cell.trimStart().replace(/^"/, ''), /^[=+\-@]/, `${JSON.stringify(cell)} of ${JSON.stringify(field)}`);
        }
      }
    });
  }
});

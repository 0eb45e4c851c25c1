import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, vault, type TestDatabase } from '@vault/testkit';
import { lookupToken } from '../services/invoicing/src/access/tokens.ts';
import { parseCsv, unguardText } from '../services/invoicing/src/exports/csv.ts';

describe('the vault command for invoicing', () => {
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    db = await freshDatabase('cli_invoicing');
    env = { DATABASE_URL: db.url, INVOICING_PORT: '3456' };
  });
  after(() => db.drop());

  test('`vault token create --finance` migrates invoicing, prints only a finance token on stdout, exit 0', async () => {
    const r = await vault(['token', 'create', '--finance'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^vt_fin_[\w-]+\n$/);
    assert.deepEqual(await lookupToken(db.pool, r.stdout.trim()), { kind: 'finance' });
    assert.doesNotMatch(r.stderr, /signin/);
  });

  test('`vault token create --account acct-1` prints the account token, and its sign-in link on stderr', async () => {
    const r = await vault(['token', 'create', '--account', 'acct-1'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^vt_acct_[\w-]+\n$/);
    const token = r.stdout.trim();
    assert.deepEqual(await lookupToken(db.pool, token), { kind: 'account', accountId: 'acct-1' });
    assert.ok(r.stderr.includes(`http://localhost:3456/signin?token=${token}`), r.stderr);
    const second = await vault(['token', 'create', '--account', 'acct-1'], env);
    assert.equal(second.status, 0, second.stderr);
    assert.notEqual(second.stdout, r.stdout, 'each run a new token');
  });

  test('`vault export lines --period 2026-10` writes the CSV on stdout and its summary on stderr', async () => {
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, finalized_at) values
         ('inv-1', 'acct-1', '2026-10', '2026-10-01Z', '2026-11-01Z', '2026-10-000001', 'USD', 21.39, '2026-11-04T00:00:00Z'),
         ('inv-9', 'acct-1', '2026-09', '2026-09-01Z', '2026-10-01Z', '2026-09-000001', 'USD', 7.00, '2026-10-04T00:00:00Z')`,
    );
    await db.pool.query(
      `insert into invoicing.invoice_lines (invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, adjusts, ms) values
         ('inv-1', 1, 'shop', 'dyno', 'web.1', 'dyno:standard-1x', 1, 25.00, 25.00, 'web.1 standard-1x', null, 0),
         ('inv-1', 2, 'shop', 'adjustment', 'web.1', 'dyno:standard-1x', -0.1444444, 25.00, -3.61, '=Credit for 2026-09, "web.1"', '2026-09', 0),
         ('inv-9', 1, 'shop', 'dyno', 'web.1', 'dyno:basic', 1, 7.00, 7.00, 'september', null, 0)`,
    );
    const r = await vault(['export', 'lines', '--period', '2026-10'], env);
    assert.equal(r.status, 0, r.stderr);
    const records = parseCsv(r.stdout);
    assert.equal(
      records[0]!.join(','),
      'number,invoice_id,account_id,period,position,app_id,kind,key,product,quantity,unit_price,amount,adjusts,description',
    );
    assert.deepEqual(
      records.slice(1, -1).map((row) => [row[1], row[4], row[11], unguardText(row[13]!)]),
      [
        ['inv-1', '1', '25.00', 'web.1 standard-1x'],
        ['inv-1', '2', '-3.61', '=Credit for 2026-09, "web.1"'],
      ],
    );
    assert.equal(records[2]![13], `'=Credit for 2026-09, "web.1"`);
    assert.deepEqual(records.at(-1), ['TOTAL', '2', '', '', '', '', '', '', '', '', '', '21.39', '', '']);
    assert.match(r.stderr, /lines\.csv for 2026-10: 2 rows, control total 21\.39/);

    const invoices = await vault(['export', 'invoices', '--period=2026-10'], env);
    assert.equal(invoices.status, 0, invoices.stderr);
    assert.equal(
      invoices.stdout,
      'number,id,account_id,period,status,currency,total,finalized_at,line_count\r\n' +
        '2026-10-000001,inv-1,acct-1,2026-10,finalized,USD,21.39,2026-11-04T00:00:00.000Z,2\r\n' +
        'TOTAL,1,,,,,21.39,,2\r\n',
    );
    assert.match(invoices.stderr, /invoices\.csv for 2026-10: 1 rows, control total 21\.39, line_count 2/);
  });

  test('bad arguments exit 2 with the usage, naming what is wrong, before touching the database', async () => {
    const cases: [string[], RegExp][] = [
      [['export', 'nope', '--period', '2026-10'], /unknown export nope/],
      [['export', 'nope'], /unknown export nope/],
      [['export'], /which export/],
      [['export', 'lines'], /--period is required/],
      [['export', 'lines', '--period', '2026-13'], /--period must be a month as YYYY-MM/],
      [['export', 'lines', '--period', '2026-10', '--frobnicate'], /frobnicate/],
      [['token'], /only create/],
      [['token', 'create'], /either --account ID or --finance/],
      [['token', 'create', '--finance', '--account', 'acct-1'], /either --account ID or --finance/],
      [['token', 'create', '--account'], /account/],
    ];
    // No DATABASE_URL and an unusable embedded home: parsing alone must decide.
    for (const [args, message] of cases) {
      const r = await vault(args, { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.match(r.stderr, /usage: vault/, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
    }
  });
});

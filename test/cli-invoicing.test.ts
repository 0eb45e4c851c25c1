import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { freshDatabase, vault, type TestDatabase } from '@vault/testkit';
import { lookupToken } from '../services/invoicing/src/access/tokens.ts';

const TOKEN_ID =
  /^(finance|account|publisher) token (tok_[0-9a-f]{16}) \((never expires|expires \S+)\); revoke it with `vault token revoke \2`$/m;
const tokenId = (stderr: string) => TOKEN_ID.exec(stderr)?.[2];
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
    const id = tokenId(r.stderr);
    assert.ok(id, r.stderr);
    assert.deepEqual(await lookupToken(db.pool, r.stdout.trim()), { kind: 'finance', tokenId: id });
    assert.doesNotMatch(r.stderr, /signin/);
  });

  test('`vault token create --account acct-1` prints the account token, and its sign-in link on stderr', async () => {
    const r = await vault(['token', 'create', '--account', 'acct-1'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^vt_acct_[\w-]+\n$/);
    const token = r.stdout.trim();
    assert.deepEqual(await lookupToken(db.pool, token), { kind: 'account', accountId: 'acct-1', tokenId: tokenId(r.stderr) });
    // The link carries a sign-in link's secret, not the token: single use, 15 minutes, issued with this token.
    const link = /http:\/\/localhost:3456\/signin\?link=(vl_[\w-]{43})$/m.exec(r.stderr)?.[1];
    assert.ok(link, r.stderr);
    assert.ok(!r.stderr.includes(token), 'the API token is not in the link');
    const { rows: links } = await db.pool.query(
      `select account_id, token_id, (extract(epoch from expires_at - created_at) / 60)::int as minutes, used_at
       from invoicing.sign_in_links where hash = $1`,
      [createHash('sha256').update(link).digest('hex')],
    );
    assert.deepEqual(links, [{ account_id: 'acct-1', token_id: tokenId(r.stderr), minutes: 15, used_at: null }]);
    const second = await vault(['token', 'create', '--account', 'acct-1'], env);
    assert.equal(second.status, 0, second.stderr);
    assert.notEqual(second.stdout, r.stdout, 'each run a new token');
    // Behind a public address, the link is there (where customers open their invoices).
    const hosted = await vault(['token', 'create', '--account', 'acct-1'], { ...env, INVOICING_WEB_URL: 'https://billing.example.com/' });
    assert.equal(hosted.status, 0, hosted.stderr);
    assert.match(hosted.stderr, /^sign-in link for acct-1: https:\/\/billing\.example\.com\/signin\?link=vl_[\w-]{43}$/m);
  });

  test('`vault token create --publisher --expires PT1H`: a publisher token, its id and expiry on stderr', async () => {
    const before = Date.now();
    const r = await vault(['token', 'create', '--publisher', '--expires', 'PT1H'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^vt_pub_[\w-]+\n$/);
    const [, kind, id, expiry] = TOKEN_ID.exec(r.stderr) ?? [];
    assert.equal(kind, 'publisher');
    assert.deepEqual(await lookupToken(db.pool, r.stdout.trim()), { kind: 'publisher', tokenId: id });
    const expiresAt = Date.parse(expiry!.replace('expires ', ''));
    assert.ok(Math.abs(expiresAt - (before + 3_600_000)) < 60_000, expiry);
    assert.doesNotMatch(r.stderr, /signin|sign-in/);
  });

  test('`vault token create --expires` takes what `vault credit grant --expires` takes: P1Y (a calendar year), P2W, lowercase p90d, P100Y', async () => {
    for (const [given, plus] of [
      ['P1Y', { years: 1 }],
      ['P2W', { weeks: 2 }],
      ['p90d', { days: 90 }],
      ['P100Y', { years: 100 }],
    ] as const) {
      const before = DateTime.utc();
      const r = await vault(['token', 'create', '--finance', '--expires', given], env);
      assert.equal(r.status, 0, `${given}: ${r.stderr}`);
      const [, , id, expiry] = TOKEN_ID.exec(r.stderr) ?? [];
      assert.deepEqual(await lookupToken(db.pool, r.stdout.trim()), { kind: 'finance', tokenId: id }, given);
      const expiresAt = Date.parse(expiry!.replace('expires ', ''));
      assert.ok(Math.abs(expiresAt - before.plus(plus).toMillis()) < 60_000, `${given}: ${expiry}`);
    }
  });

  test('`vault token list` shows every token by id, kind, account, dates and state, never a token; `revoke ID` stops one at once', async () => {
    const created = await vault(['token', 'create', '--account', 'acct-list'], env);
    assert.equal(created.status, 0, created.stderr);
    const token = created.stdout.trim();
    const id = tokenId(created.stderr)!;
    const list = await vault(['token', 'list'], env);
    assert.equal(list.status, 0, list.stderr);
    const [header, ...rows] = list.stdout.trimEnd().split('\n');
    assert.match(header!, /^ID +KIND +ACCOUNT +CREATED +EXPIRES +STATE$/);
    const row = rows.find((l) => l.startsWith(`${id} `));
    assert.match(row ?? '', new RegExp(`^${id} +account +acct-list +\\d{4}-\\d\\d-\\d\\dT\\S+Z +- +live$`), list.stdout);
    assert.ok(
      rows.some((l) => / publisher .* live$/.test(l)),
      'the publisher token too',
    );
    const { rows: hashes } = await db.pool.query<{ hash: string }>('select hash from invoicing.tokens');
    for (const secret of [token, ...hashes.map((h) => h.hash)]) assert.ok(!list.stdout.includes(secret), 'no token, no hash');

    const revoked = await vault(['token', 'revoke', id], env);
    assert.equal(revoked.status, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^revoked ${id} \\(account token of acct-list\\): it stops working now\n$`));
    assert.equal(await lookupToken(db.pool, token), undefined, 'at once');
    const again = await vault(['token', 'revoke', id], env);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /was already revoked at /);
    const after = await vault(['token', 'list'], env);
    assert.match(after.stdout, new RegExp(`^${id} .* revoked$`, 'm'));

    const unknown = await vault(['token', 'revoke', 'tok_0123456789abcdef'], env);
    assert.equal(unknown.status, 1);
    assert.equal(unknown.stderr, 'vault token revoke: no token tok_0123456789abcdef (`vault token list` shows them)\n');
  });

  test('`vault export lines --period 2026-10` writes the CSV on stdout and its summary on stderr', async () => {
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, finalized_at) values
         ('inv-1', 'acct-1', '2026-10', '2026-10-01Z', '2026-11-01Z', '2026-10-000001', 'USD', 21.39, '2026-11-04T00:00:00Z'),
         ('inv-9', 'acct-1', '2026-09', '2026-09-01Z', '2026-10-01Z', '2026-09-000001', 'USD', 7.00, '2026-10-04T00:00:00Z')`,
    );
    await db.pool.query(`select invoicing.ensure_lines_month(m) from unnest(array['2026-09', '2026-10']) m`);
    await db.pool.query(
      `insert into invoicing.invoice_lines (invoice_id, invoice_number, position, app_id, kind, key, product, quantity, unit_price, amount, description, adjusts, ms) values
         ('inv-1', '2026-10-000001', 1, 'shop', 'dyno', 'web.1', 'dyno:standard-1x', 1, 25.00, 25.00, 'web.1 standard-1x', null, 0),
         ('inv-1', '2026-10-000001', 2, 'shop', 'adjustment', 'web.1', 'dyno:standard-1x', -0.1444444, 25.00, -3.61, '=Credit for 2026-09, "web.1"', '2026-09', 0),
         ('inv-9', '2026-09-000001', 1, 'shop', 'dyno', 'web.1', 'dyno:basic', 1, 7.00, 7.00, 'september', null, 0)`,
    );
    const r = await vault(['export', 'lines', '--period', '2026-10'], env);
    assert.equal(r.status, 0, r.stderr);
    const records = parseCsv(r.stdout);
    assert.equal(
      records[0]!.join(','),
      'number,invoice_id,account_id,period,position,app_id,kind,key,product,quantity,unit_price,amount,adjusts,description,currency',
    );
    assert.deepEqual(
      records.slice(1, -1).map((row) => [row[1], row[4], row[11], unguardText(row[13]!)]),
      [
        ['inv-1', '1', '25.00', 'web.1 standard-1x'],
        ['inv-1', '2', '-3.61', '=Credit for 2026-09, "web.1"'],
      ],
    );
    assert.equal(records[2]![13], `'=Credit for 2026-09, "web.1"`);
    assert.deepEqual(records.at(-1), ['TOTAL', '2', '', '', '', '', '', '', '', '', '', '21.39', '', '', 'USD']);
    assert.match(r.stderr, /lines\.csv for 2026-10: 2 rows, control total 21\.39 USD/);

    const invoices = await vault(['export', 'invoices', '--period=2026-10'], env);
    assert.equal(invoices.status, 0, invoices.stderr);
    assert.equal(
      invoices.stdout,
      'number,id,account_id,period,status,currency,subtotal,credit_applied,total,amount_refunded,finalized_at,line_count,amount_disputed\r\n' +
        '2026-10-000001,inv-1,acct-1,2026-10,finalized,USD,21.39,0.00,21.39,0.00,2026-11-04T00:00:00.000Z,2,0.00\r\n' +
        'TOTAL,1,,,,USD,21.39,0.00,21.39,0.00,,2,0.00\r\n',
    );
    assert.match(
      invoices.stderr,
      /invoices\.csv for 2026-10: 1 row, control total 21\.39 USD, subtotal 21\.39, credit_applied 0\.00, amount_refunded 0\.00, line_count 2, amount_disputed 0\.00/,
    );
  });

  test('bad arguments exit 2 with the usage, naming what is wrong, before touching the database', async () => {
    const cases: [string[], RegExp][] = [
      [['export', 'nope', '--period', '2026-10'], /unknown export nope/],
      [['export', 'nope'], /unknown export nope/],
      [['export'], /which export/],
      [['export', 'lines'], /--period is required/],
      [['export', 'lines', '--period', '2026-13'], /--period must be a month as YYYY-MM/],
      // PostgreSQL has no year zero.
      [['export', 'credits', '--period', '0000-01'], /--period must be a month as YYYY-MM, from 0001-01, got "0000-01"/],
      [['export', 'lines', '--period', '2026-10', '--frobnicate'], /frobnicate/],
      [['token'], /one of create, list, revoke/],
      [['token', 'create'], /give one of --account ID, --finance or --publisher/],
      [['token', 'create', '--finance', '--account', 'acct-1'], /give only one of --account ID, --finance or --publisher/],
      [['token', 'create', '--finance', '--publisher'], /give only one of --account ID, --finance or --publisher/],
      [['token', 'create', '--account'], /account/],
      // One rule with `credit grant --expires` (services/invoicing/src/cli/expires.ts), saying what it takes.
      [
        ['token', 'create', '--publisher', '--expires', '3d'],
        /^vault: token create: --expires must be a positive ISO 8601 duration such as P90D, PT12H, P2W, P6M or P1Y \(any letter case\), at most P100Y, got "3d"$/m,
      ],
      [
        ['token', 'create', '--publisher', '--expires', 'P1X'],
        /token create: --expires must be a positive ISO 8601 duration .*, got "P1X"/,
      ],
      [['token', 'create', '--publisher', '--expires', 'PT0S'], /token create: --expires must be a positive ISO 8601 duration/],
      [['token', 'create', '--publisher', '--expires', 'P-1D'], /token create: --expires must be a positive ISO 8601 duration/],
      // PostgreSQL would store a year JS dates cannot hold: the token printed, then every `token list` failing.
      [
        ['token', 'create', '--publisher', '--expires', 'P100000000D'],
        /token create: --expires must be at most 100 years \(P100Y\), got "P100000000D"/,
      ],
      [
        ['token', 'create', '--publisher', '--expires', 'P101Y'],
        /token create: --expires must be at most 100 years \(P100Y\), got "P101Y"/,
      ],
      [['token', 'revoke'], /which token\? give its id/],
      [['token', 'revoke', 'acct-1'], /"acct-1" is not a token id/],
      [['token', 'revoke', 'tok_0123456789abcdef', 'tok_0123456789abcdee'], /unexpected argument tok_0123456789abcdee/],
      [['token', 'list', 'all'], /unexpected argument all/],
      [['token', 'list', '--finance'], /unknown option --finance/],
      [
        ['credit', 'grant', '--account', 'a', '--amount', '5.00', '--reason', 'x', '--expires', 'nope'],
        /--expires must be an ISO 8601 instant such as "2027-01-01T00:00:00Z" or a duration such as P90D/,
      ],
      [
        ['credit', 'grant', '--account', 'a', '--amount', '5.00', '--reason', 'x', '--expires', 'P100000000D'],
        /credit grant: --expires must be at most 100 years \(P100Y\), got "P100000000D"/,
      ],
      [
        ['credit', 'grant', '--account', 'a', '--amount', '5.00', '--reason', 'x', '--expires', 'P1X'],
        /credit grant: --expires must be a positive ISO 8601 duration such as P90D, PT12H, P2W, P6M or P1Y \(any letter case\), at most P100Y, got "P1X"/,
      ],
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

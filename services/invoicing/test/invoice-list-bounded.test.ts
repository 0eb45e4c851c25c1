// An account's invoice list grows with every month of history and every line: the API read every
// line of every invoice in one statement (48,000 lines: 3.9 s, +61 MiB, a 9.7 MiB body per request)
// and the customer's /invoices page did the same to show four columns. The API now streams the same
// JSON from pages of invoices and pages of each invoice's lines; the page reads invoice columns only.
// Real PostgreSQL; each statement the app's pool answers is counted while a request runs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { INVOICE_PAGE, LINE_PAGE } from '../src/billing/invoice-list.ts';
import { ACCOUNT_A, webClient, webWorld, type WebWorld } from './web-fixture.ts';

let world: WebWorld;
const { signIn, get } = webClient(() => world);
const MONTHS = 30;
const LINES = 1_700;

/** Every statement the pool answers while `run` runs: its text and how many rows it returned. */
async function statementsOf<T>(pool: pg.Pool, run: () => Promise<T>): Promise<{ result: T; seen: { sql: string; rows: number }[] }> {
  const seen: { sql: string; rows: number }[] = [];
  const query = pool.query;
  const counting = async (...args: unknown[]) => {
    const r = await (query as (...a: unknown[]) => Promise<pg.QueryResult>).apply(pool, args);
    const sql = typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string }).text);
    seen.push({ sql, rows: r.rows?.length ?? 0 });
    return r;
  };
  pool.query = counting as unknown as typeof pool.query;
  try {
    return { result: await run(), seen };
  } finally {
    pool.query = query;
  }
}

/** A small account of two invoices whose lines carry every shape a line can have (nulls, an adjustment, quotes, non-ASCII). */
async function seedPinned(pool: pg.Pool): Promise<void> {
  await pool.query(`select invoicing.ensure_lines_month(m) from unnest(array['2026-08', '2026-09']) m`);
  await pool.query(
    `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, subtotal, credit_applied,
                                     finalized_at, status, amount_refunded) values
       ('in_pin_08', 'acct-pin', '2026-08', '2026-08-01Z', '2026-09-01Z', '2026-08-000901', 'USD', 25.00, 25.00, 0, '2026-09-04Z', 'paid', 5.00),
       ('in_pin_09', 'acct-pin', '2026-09', '2026-09-01Z', '2026-10-01Z', '2026-09-000901', 'USD', 0.00, 3.39, 3.39, '2026-10-04Z', 'finalized', 0)`,
  );
  await pool.query(
    `insert into invoicing.invoice_lines (invoice_id, invoice_number, position, app_id, kind, key, product, quantity, unit_price, amount,
                                          description, adjusts, ms) values
       ('in_pin_08', '2026-08-000901', 0, 'shop', 'dyno', 'web.1', 'dyno:standard-1x', 1, 25.00, 25.00, 'web.1 "standard" – 1x', null, 2678400000),
       ('in_pin_09', '2026-09-000901', 0, 'shop', 'addon', 'addon-pg1', 'addon:heroku-postgresql:essential-0', 0.6774194, 5.00, 3.39, 'pg', null, 1),
       ('in_pin_09', '2026-09-000901', 1, 'shop', 'dyno', 'web.2', 'dyno:unpriced', 0.5, null, null, 'no price', null, 2),
       ('in_pin_09', '2026-09-000901', 2, 'shop', 'adjustment', 'web.1', 'dyno:standard-1x', -0.1444444, 25.00, -3.61, '=Credit for 2026-08', '2026-08', 0)`,
  );
}

/** ACCOUNT_A gets MONTHS more invoices before October's, each of LINES lines. */
async function seedHistory(pool: pg.Pool): Promise<void> {
  await pool.query(
    `select invoicing.ensure_lines_month(to_char(date '2024-03-01' + make_interval(months => m), 'YYYY-MM')) from generate_series(0, $1 - 1) m`,
    [MONTHS],
  );
  await pool.query(
    `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, subtotal, finalized_at)
     select 'in_hist_' || m, $1, to_char(s, 'YYYY-MM'), s, s + interval '1 month', to_char(s, 'YYYY-MM') || '-000900', 'USD', $2 * 1.00, $2 * 1.00,
            s + interval '1 month 3 days'
       from generate_series(0, $3 - 1) m, lateral (select timestamptz '2024-03-01Z' + make_interval(months => m) as s) x`,
    [ACCOUNT_A, LINES, MONTHS],
  );
  await pool.query(
    `insert into invoicing.invoice_lines (invoice_id, invoice_number, position, app_id, kind, key, product, quantity, unit_price, amount,
                                          description, adjusts, ms)
     select i.id, i.number, p, 'shop-web', 'dyno', 'web.' || p, 'dyno:basic', 1, 1.00, 1.00, 'web.' || p || ' basic, all month', null, 0
       from invoicing.invoices i, generate_series(0, $2 - 1) p where i.id like 'in_hist_%' and i.account_id = $1`,
    [ACCOUNT_A, LINES],
  );
}

describe("an account's invoice list, however long its history", { timeout: 180_000 }, () => {
  before(async () => {
    world = await webWorld();
    await seedPinned(world.db.pool);
    await seedHistory(world.db.pool);
  });
  after(async () => {
    await world?.close();
  });

  const api = (account: string) =>
    world.http.inject({ method: 'GET', url: `/v1/accounts/${account}/invoices`, headers: { authorization: `Bearer ${world.adminToken}` } });

  test('the API answers a small account byte for byte as before: newest first, every line, JSON', async () => {
    const res = await api('acct-pin');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(res.body, PINNED);
    const none = await api('acct-nobody');
    assert.equal(none.statusCode, 200);
    assert.equal(none.body, '{"invoices":[]}');
  });

  test('`?limit=N` answers the N newest, `?before=YYYY-MM` those of earlier months; a bad or unknown parameter is a 400 naming it', async () => {
    const url = (query: string) => `/v1/accounts/acct-pin/invoices${query}`;
    const call = (query: string) =>
      world.http.inject({ method: 'GET', url: url(query), headers: { authorization: `Bearer ${world.adminToken}` } });
    const [september, august] = (JSON.parse(PINNED) as { invoices: unknown[] }).invoices;
    assert.equal((await call('?limit=1')).body, JSON.stringify({ invoices: [september] }));
    assert.equal((await call('?before=2026-09')).body, JSON.stringify({ invoices: [august] }));
    assert.equal((await call('?before=2026-10&limit=1000')).body, PINNED);
    assert.equal((await call('?before=2026-08')).body, '{"invoices":[]}');
    const { invoices } = JSON.parse((await api(ACCOUNT_A)).body) as { invoices: { period: string }[] };
    const window = await world.http.inject({
      method: 'GET',
      url: `/v1/accounts/${ACCOUNT_A}/invoices?before=${invoices[3]!.period}&limit=5`,
      headers: { authorization: `Bearer ${world.adminToken}` },
    });
    assert.deepEqual(
      (JSON.parse(window.body) as { invoices: { period: string }[] }).invoices.map((i) => i.period),
      invoices.slice(4, 9).map((i) => i.period),
    );
    for (const [query, field] of [
      ['?limit=0', 'limit'],
      ['?limit=1001', 'limit'],
      ['?limit=ten', 'limit'],
      ['?before=2026-13', 'before'],
      ['?page=2', 'page'],
      ['?limit=1&limit=2', 'limit'],
    ] as const) {
      const res = await call(query);
      assert.equal(res.statusCode, 400, query);
      assert.match(res.json<{ error: string }>().error, new RegExp(`^invalid query: ${field}: `), `${query}: ${res.body}`);
    }
  });

  test(`the API answers ${MONTHS} invoices × ${LINES} lines whole, and no statement returns more than a page`, async () => {
    const before = process.memoryUsage().rss;
    const { result: res, seen } = await statementsOf(world.db.pool, () => api(ACCOUNT_A));
    assert.equal(res.statusCode, 200);
    const { invoices } = JSON.parse(res.body) as { invoices: { period: string; lines: { key: string }[] }[] };
    assert.equal(invoices.length, MONTHS + 1);
    assert.deepEqual(
      invoices.map((i) => i.period),
      [...invoices.map((i) => i.period)].sort().reverse(),
      'newest first',
    );
    for (const inv of invoices.slice(1)) {
      assert.equal(inv.lines.length, LINES, inv.period);
      assert.equal(inv.lines.at(-1)!.key, `web.${LINES - 1}`, 'in position order');
    }
    const most = Math.max(0, ...seen.map((s) => s.rows));
    assert.ok(most <= Math.max(INVOICE_PAGE, LINE_PAGE), `a statement returned ${most} rows`);
    console.log(
      `api: ${(res.body.length / 2 ** 20).toFixed(1)} MiB body, ${seen.length} statements, at most ${most} rows, rss +${((process.memoryUsage().rss - before) / 2 ** 20).toFixed(0)} MiB`,
    );
  });

  test('the /invoices page reads no line: its statements return at most a row per invoice', async () => {
    const session = await signIn(ACCOUNT_A);
    const { result: res, seen } = await statementsOf(world.db.pool, () => get('/invoices', session));
    assert.equal(res.statusCode, 200);
    assert.equal(res.body.match(/<a href="\/invoices\//g)?.length, MONTHS + 1);
    assert.deepEqual(
      seen.filter((s) => /invoice_lines/.test(s.sql)).map((s) => s.sql),
      [],
      'no statement reads the lines',
    );
    const most = Math.max(0, ...seen.map((s) => s.rows));
    assert.ok(most <= MONTHS + 1, `a statement returned ${most} rows`);
    assert.ok(res.body.length < 200_000, `${res.body.length} bytes`);
  });
});

/** The answer before the list was streamed (one statement for every line), captured from it. */
const PINNED =
  '{"invoices":[{"id":"in_pin_09","number":"2026-09-000901","account_id":"acct-pin","period":"2026-09","status":"finalized","currency":"USD","subtotal":"3.39","credit_applied":"3.39","total":"0.00","amount_refunded":"0.00","amount_disputed":"0.00","lines":[{"app_id":"shop","kind":"addon","key":"addon-pg1","product":"addon:heroku-postgresql:essential-0","quantity":"0.6774194","unit_price":"5.00","amount":"3.39","description":"pg"},{"app_id":"shop","kind":"dyno","key":"web.2","product":"dyno:unpriced","quantity":"0.5000000","unit_price":null,"amount":null,"description":"no price"},{"app_id":"shop","kind":"adjustment","key":"web.1","product":"dyno:standard-1x","quantity":"-0.1444444","unit_price":"25.00","amount":"-3.61","description":"=Credit for 2026-08","adjusts":"2026-08"}],"holds":[]},{"id":"in_pin_08","number":"2026-08-000901","account_id":"acct-pin","period":"2026-08","status":"paid","currency":"USD","subtotal":"25.00","credit_applied":"0.00","total":"25.00","amount_refunded":"5.00","amount_disputed":"0.00","lines":[{"app_id":"shop","kind":"dyno","key":"web.1","product":"dyno:standard-1x","quantity":"1.0000000","unit_price":"25.00","amount":"25.00","description":"web.1 \\"standard\\" – 1x"}],"holds":[]}]}';

// GET /v1/accounts/:id/invoices is streamed (invoice-list.ts). It sent `{"invoices":[` before its
// first statement, so a first statement stopped at the statement limit was a 200 cut short, not
// the contract's 503, and a statement failing midway was logged nowhere. Invoicing on a real port,
// its requests on a pool with a low statement limit, a real PostgreSQL where another session holds a lock.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { openRequestPool } from '@vault/db';
import type { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { get as getAs, serveLimitedInvoicing, whileLocked as lockedWhile } from './limited-invoicing.ts';
import { billingDatabase } from './seed.ts';

const LIMIT_MS = 300;
const ADMIN_TOKEN = 'test-admin-token-list-0123456789abcdef';
const ACCOUNT = 'acct-list';
const ROUTE = '/v1/accounts/:account_id/invoices';

const get = (base: string, path: string) => getAs(base, path, ADMIN_TOKEN);

const parses = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** Three months of invoices for ACCOUNT, each with two lines. */
async function seed(pool: pg.Pool): Promise<void> {
  const months = ['2026-07', '2026-08', '2026-09'];
  await pool.query(`select invoicing.ensure_lines_month(m) from unnest($1::text[]) m`, [months]);
  await pool.query(
    `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, subtotal, finalized_at)
     select 'in_list_' || m, $1, m, (m || '-01Z')::timestamptz, (m || '-01Z')::timestamptz + interval '1 month', m || '-000001', 'USD',
            2.00, 2.00, (m || '-01Z')::timestamptz + interval '1 month 3 days'
       from unnest($2::text[]) m`,
    [ACCOUNT, months],
  );
  await pool.query(
    `insert into invoicing.invoice_lines (invoice_id, invoice_number, position, app_id, kind, key, product, quantity, unit_price, amount,
                                          description, adjusts, ms)
     select i.id, i.number, p, 'shop', 'dyno', 'web.' || p, 'dyno:basic', 1, 1.00, 1.00, 'web.' || p, null, 0
       from invoicing.invoices i, generate_series(0, 1) p where i.account_id = $1`,
    [ACCOUNT],
  );
}

describe('the streamed invoice list when a statement fails', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let server: ReturnType<typeof createHttpApp>;
  let log: ReturnType<typeof memoryLogger>;
  let base: string;

  before(async () => {
    db = await billingDatabase();
    await seed(db.pool);
    pool = openRequestPool(db.url, { statementTimeoutMs: LIMIT_MS, max: 2 });
    const prices = loadPriceBook();
    const billing = createBilling({ pool, viewPool: pool, prices, graceHours: 72 });
    ({ server, log, base } = await serveLimitedInvoicing(LIMIT_MS, { pool, billing, prices, adminToken: ADMIN_TOKEN }));
  });
  after(async () => {
    await server?.close();
    await pool?.end();
    await db?.drop();
  });

  const whileLocked = <T>(table: string, run: () => Promise<T>) => lockedWhile(db.url, table, run);

  test('the whole list answers 200 and parses while nothing is locked', async () => {
    const res = await get(base, `/v1/accounts/${ACCOUNT}/invoices`);
    assert.equal(res.status, 200);
    assert.ok(res.complete);
    const { invoices } = JSON.parse(res.body) as { invoices: { period: string; lines: unknown[] }[] };
    assert.deepEqual(
      invoices.map((i) => [i.period, i.lines.length]),
      [
        ['2026-09', 2],
        ['2026-08', 2],
        ['2026-07', 2],
      ],
    );
  });

  test('invoices locked: the first statement stopped at the limit is a 503 with Retry-After, logged, not a 200 cut short', async () => {
    const from = log.lines.length;
    const res = await whileLocked('invoicing.invoices', () => get(base, `/v1/accounts/${ACCOUNT}/invoices`));
    assert.equal(res.status, 503, res.body);
    assert.equal(res.headers['retry-after'], '5');
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.ok(res.complete);
    assert.deepEqual(JSON.parse(res.body), { error: 'the database is busy: try again in a few seconds' });
    const lines = log.lines.slice(from);
    assert.ok(
      lines.some((l) => l.includes('at=warn event=http.database_timeout') && l.includes(ROUTE) && l.includes('reason=statement_timeout')),
      lines.join('\n'),
    );
    assert.ok(!lines.some((l) => /at=error/.test(l)), lines.join('\n'));
  });

  test('invoice_lines locked: a statement failing after the first byte cuts the body (never a finished JSON) and is logged at error naming the route', async () => {
    const from = log.lines.length;
    const res = await whileLocked('invoicing.invoice_lines', () => get(base, `/v1/accounts/${ACCOUNT}/invoices`));
    assert.equal(res.status, 200, 'the status was sent with the first byte');
    assert.equal(res.complete, false, `the body must not end cleanly: ${res.body}`);
    assert.match(res.body, /^\{"invoices":\[\{"id":"in_list_2026-09"/);
    assert.equal(parses(res.body), false, res.body);
    // The stream's error is emitted beside the response's end: give the log a moment.
    for (let i = 0; i < 50 && !log.lines.slice(from).some((l) => l.includes('http.stream_failed')); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const failed = log.lines.slice(from).filter((l) => l.includes('event=http.stream_failed'));
    assert.equal(failed.length, 1, log.lines.slice(from).join('\n'));
    const line = failed[0]!;
    assert.match(line, / at=error /);
    assert.ok(line.includes(ROUTE), line);
    assert.ok(line.includes(`account_id=${ACCOUNT}`), line);
    assert.ok(line.includes('code=57014'), line);
    assert.match(line, /statement timeout/);
    assert.ok(!line.includes(ADMIN_TOKEN), 'no secret in the line');
  });

  test('once the lock is gone the list answers whole again', async () => {
    const res = await get(base, `/v1/accounts/${ACCOUNT}/invoices`);
    assert.equal(res.status, 200);
    assert.ok(res.complete);
    assert.equal((JSON.parse(res.body) as { invoices: unknown[] }).invoices.length, 3);
  });
});

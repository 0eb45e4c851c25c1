// The "done when": october.ndjson through metering, then
// `vault finalize --period 2026-10`, gives exactly october-invoices.json through
// the API; a late dyno.stopped shows as a credit on November's draft.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually, vault } from '@vault/testkit';
import { invoicingRoutes } from '../services/invoicing/src/app.ts';
import { createBilling } from '../services/invoicing/src/billing/service.ts';
import { loadPriceBook } from '../services/invoicing/src/billing/price-book-file.ts';
import { octoberMetered } from './october-metered.ts';
import { ADMIN, AUTH, stats, type Metering } from '../services/metering/test/harness.ts';
import { octoberInvoices, statedLine, type StatedInvoice } from './fixtures/october.ts';

const expected = octoberInvoices;

/** The fields october-invoices.json states, from an API invoice. */
const asExpected = (inv: StatedInvoice) => ({
  account_id: inv.account_id,
  period: inv.period,
  currency: inv.currency,
  total: inv.total,
  lines: inv.lines.map(statedLine),
});

describe('invoicing end to end: october through metering, finalized, read through the API', () => {
  let m: Metering;
  let http: FastifyInstance;
  let billing: ReturnType<typeof createBilling>;
  let clock = DateTime.fromISO('2026-11-20T00:00:00Z', { zone: 'utc' });
  const get = (url: string) => http.inject({ method: 'GET', url, headers: AUTH });

  before(async () => {
    m = await octoberMetered();
    http = createHttpApp(memoryLogger());
    const prices = loadPriceBook();
    billing = createBilling({ pool: m.db.pool, prices, graceHours: 72, now: () => clock });
    invoicingRoutes(http, { pool: m.db.pool, billing, prices, adminToken: ADMIN, log: memoryLogger() });
    await http.ready();
  });
  after(async () => {
    await http?.close();
    await m?.close();
  });

  test('`vault finalize --period 2026-10` gives exactly october-invoices.json through GET /v1/accounts/:id/invoices', async () => {
    const run = await vault(['finalize', '--period', '2026-10'], { DATABASE_URL: m.db.url, ADMIN_TOKEN: ADMIN });
    assert.equal(run.status, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /finalized 2 invoice\(s\) for 2026-10 totalling 53\.87 USD;/);
    for (const want of expected) {
      const res = await get(`/v1/accounts/${want.account_id}/invoices`);
      assert.equal(res.statusCode, 200);
      const [invoice, ...others] = res.json().invoices;
      assert.equal(others.length, 0);
      assert.deepEqual(asExpected(invoice), want);
      assert.equal(invoice.status, 'finalized');
      assert.match(invoice.number, /^2026-10-00000[12]$/);
      assert.deepEqual((await get(`/v1/invoices/${invoice.id}`)).json(), invoice);
    }
  });

  test('finalizing again, twice at once, changes nothing: the same invoices and numbers', async () => {
    const before = await m.db.pool.query('select id, number, total::text from invoicing.invoices order by number');
    const runs = await Promise.all([1, 2].map(() => vault(['finalize', '--period', '2026-10'], { DATABASE_URL: m.db.url })));
    for (const run of runs) {
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /finalized 0 invoice\(s\) for 2026-10 totalling 0\.00 USD; 2 already finalized; 0 held/);
    }
    const now = await m.db.pool.query('select id, number, total::text from invoicing.invoices order by number');
    assert.deepEqual(now.rows, before.rows);
    assert.deepEqual(
      before.rows.map((r) => r.number),
      ['2026-10-000001', '2026-10-000002'],
    );
  });

  test('a month not past its grace period is refused: exit 1, nothing finalized', async () => {
    const run = await vault(['finalize', '--period', '2099-01'], { DATABASE_URL: m.db.url });
    assert.equal(run.status, 1);
    assert.match(run.stdout, /nothing finalized: 2099-01 is not due until 2099-02-04T00:00:00.000Z/);
  });

  test("a late dyno.stopped for October is a credit on November's draft; October's invoice never changes", async () => {
    const october = (await get('/v1/accounts/acct-1/invoices')).json().invoices[0];
    // dyno-d2 (web.1) had no stop, so October billed it to the month's end.
    const late = {
      specversion: '1.0',
      id: 'evt-late-1',
      source: 'dyno-manager',
      type: 'dyno.stopped',
      time: '2026-10-20T00:00:00Z',
      subject: 'dyno-d2',
      sequence: 2,
      data: { app_id: 'app-1' },
    };
    const posted = await m.http.inject({ method: 'POST', url: '/v1/events', headers: AUTH, payload: [late] });
    assert.equal(posted.statusCode, 202, posted.body);
    await eventually('the late stop applied', async () => (await stats(m)).events_applied === 14);

    const draft = (await get('/v1/accounts/acct-1/usage?period=2026-11')).json();
    assert.equal(draft.status, 'draft');
    assert.equal(draft.number, null);
    const credits = draft.lines.filter((l: { kind: string }) => l.kind === 'adjustment');
    // web.1 ran 10 + 9.5 days instead of past the cap: 19.5/31 × 25.00 = 15.73, so 25.00 − 15.73.
    assert.deepEqual(
      credits.map(({ app_id, key, product, amount, adjusts }: Record<string, string>) => ({ app_id, key, product, amount, adjusts })),
      [{ app_id: 'app-1', key: 'web.1', product: 'dyno:standard-1x', amount: '-9.27', adjusts: '2026-10' }],
    );
    assert.match(credits[0].description, /^Credit for 2026-10: web\.1 standard-1x$/);
    assert.deepEqual((await get(`/v1/invoices/${october.id}`)).json(), october);
    assert.deepEqual((await get('/v1/accounts/acct-1/usage?period=2026-10')).json(), october);
  });

  test("finalizing November puts the credit on its invoice, once: December's draft has none left", async () => {
    clock = DateTime.fromISO('2026-12-05T00:00:00Z', { zone: 'utc' });
    const report = await billing.finalize('2026-11');
    assert.equal(report.finalized, 2);
    const [november] = (await get('/v1/accounts/acct-1/invoices')).json().invoices;
    assert.equal(november.period, '2026-11');
    assert.equal(november.number, '2026-11-000001');
    const credit = november.lines.find((l: { kind: string }) => l.kind === 'adjustment');
    assert.equal(credit.amount, '-9.27');
    const december = (await get('/v1/accounts/acct-1/usage')).json();
    assert.equal(december.period, '2026-12');
    assert.deepEqual(
      december.lines.filter((l: { kind: string }) => l.kind === 'adjustment'),
      [],
    );
  });
});

// A late event that makes a billed span empty (docs/contracts/invoicing.md, "Late
// usage"): metering derives the subject again and the span's interval is gone,
// with no row learned late to say so, unless metering records the span as
// vanished. Through the real consumer (october.ndjson, then the late events) and
// finalize of the next month: the customer is credited what never ran.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually } from '@vault/testkit';
import { invoicingRoutes } from '../services/invoicing/src/app.ts';
import { createBilling } from '../services/invoicing/src/billing/service.ts';
import { loadPriceBook } from '../services/invoicing/src/billing/price-book-file.ts';
import { octoberMetered } from './october-metered.ts';
import { ADMIN, AUTH, stats, type Metering } from '../services/metering/test/harness.ts';

interface Line {
  kind: string;
  app_id: string;
  key: string;
  product: string;
  amount: string;
  adjusts: string;
}
const adjustments = (lines: Line[]) =>
  lines
    .filter((l) => l.kind === 'adjustment')
    .map(({ app_id, key, product, amount, adjusts }) => ({ app_id, key, product, amount, adjusts }));

// addon-pg1's standard-0 from Oct 20: 12/31 × 50.00.
const ADDON_CREDIT = {
  app_id: 'app-1',
  key: 'addon-pg1',
  product: 'addon:heroku-postgresql:standard-0',
  amount: '-19.35',
  adjusts: '2026-10',
};
// web.1 was dyno-d1's 10 days alone: 25.00 − 10/31 × 25.00.
const DYNO_CREDIT = { app_id: 'app-1', key: 'web.1', product: 'dyno:standard-1x', amount: '-16.94', adjusts: '2026-10' };

describe('a late event that makes a finalized month’s span empty is a credit (october through metering, finalize)', () => {
  let m: Metering;
  let http: FastifyInstance;
  let billing: ReturnType<typeof createBilling>;
  let clock = DateTime.fromISO('2026-11-05T00:00:00Z', { zone: 'utc' });
  const get = (url: string) => http.inject({ method: 'GET', url, headers: AUTH });
  const post = async (event: object, applied: number) => {
    const res = await m.http.inject({ method: 'POST', url: '/v1/events', headers: AUTH, payload: [event] });
    assert.equal(res.statusCode, 202, res.body);
    await eventually(`${applied} events applied`, async () => (await stats(m)).events_applied === applied);
  };

  before(async () => {
    m = await octoberMetered();
    // As if October's events had arrived in October: learned long before its invoices.
    const arrived = '2026-10-31T12:00:00Z';
    await m.db.pool.query('update metering.events set received_at = $1', [arrived]);
    await m.db.pool.query('update metering.usage_intervals set learned_at = $1', [arrived]);
    await m.db.pool.query('update metering.app_ownership set learned_at = $1', [arrived]);
    http = createHttpApp(memoryLogger());
    const prices = loadPriceBook();
    billing = createBilling({ pool: m.db.pool, prices, graceHours: 72, now: () => clock });
    invoicingRoutes(http, { pool: m.db.pool, billing, prices, adminToken: ADMIN, log: memoryLogger() });
    await http.ready();
    assert.equal((await billing.finalize('2026-10')).finalized, 2);
  });
  after(async () => {
    await http?.close();
    await m?.close();
  });

  test('a late addon.deprovisioned at the instant of the plan change before it credits the plan October charged from then', async () => {
    await post(
      {
        specversion: '1.0',
        id: 'evt-late-pg1',
        source: 'addon-service',
        type: 'addon.deprovisioned',
        time: '2026-10-20T00:00:00Z',
        subject: 'addon-pg1',
        sequence: 3,
        data: { app_id: 'app-1' },
      },
      14,
    );
    const { rows } = await m.db.pool.query(`select product, during::text from metering.usage_intervals where subject = 'addon-pg1'`);
    assert.deepEqual(rows, [
      { product: 'addon:heroku-postgresql:essential-0', during: '["2026-10-05 00:00:00+00","2026-10-20 00:00:00+00")' },
    ]);
    // Published as vanished, learned when the late event arrived, after October's invoices.
    const vanished = await m.db.pool.query(
      `select v.app_id, v.kind, v.at::text, v.learned_at > i.finalized_at as late
         from metering.billable_vanished v, invoicing.invoices i where i.account_id = 'acct-1'`,
    );
    assert.deepEqual(vanished.rows, [{ app_id: 'app-1', kind: 'addon', at: '2026-10-20 00:00:00+00', late: true }]);
    const draft = (await get('/v1/accounts/acct-1/usage?period=2026-11')).json();
    assert.deepEqual(adjustments(draft.lines), [ADDON_CREDIT]);
  });

  test('a late dyno.stopped at the dyno’s own start credits what October charged for it', async () => {
    await post(
      {
        specversion: '1.0',
        id: 'evt-late-d2',
        source: 'dyno-manager',
        type: 'dyno.stopped',
        time: '2026-10-10T12:00:00Z',
        subject: 'dyno-d2',
        sequence: 2,
        data: { app_id: 'app-1' },
      },
      15,
    );
    const { rows } = await m.db.pool.query(`select 1 from metering.usage_intervals where subject = 'dyno-d2'`);
    assert.equal(rows.length, 0);
    const draft = (await get('/v1/accounts/acct-1/usage?period=2026-11')).json();
    assert.deepEqual(adjustments(draft.lines), [ADDON_CREDIT, DYNO_CREDIT]);
  });

  test('finalizing November carries both credits onto its invoice, once', async () => {
    clock = DateTime.fromISO('2026-12-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-11');
    const [november] = (await get('/v1/accounts/acct-1/invoices')).json().invoices;
    assert.equal(november.period, '2026-11');
    assert.deepEqual(adjustments(november.lines), [ADDON_CREDIT, DYNO_CREDIT]);
    const december = (await get('/v1/accounts/acct-1/usage')).json();
    assert.equal(december.period, '2026-12');
    assert.deepEqual(adjustments(december.lines), []);
  });
});

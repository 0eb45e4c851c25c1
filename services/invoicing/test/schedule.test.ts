import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { memoryLogger } from '@vault/runtime';
import { eventually, type TestDatabase } from '@vault/testkit';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { dueMonths, startSchedule } from '../src/billing/schedule.ts';
import { billingDatabase, seedOwners, seedUsage } from './seed.ts';

describe('the finalize schedule inside the service', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    await seedOwners(db.pool, [{ app: 's-app', account: 's-1', from: '2026-08-01T00:00:00Z' }]);
    await seedUsage(db.pool, [{ app: 's-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-08-20T00:00:00Z' }]);
  });
  after(() => db.drop());

  test('the due months run from the first month with usage to the last past its grace period', async () => {
    const months = async (iso: string) => (await dueMonths(db.pool, 72, DateTime.fromISO(iso, { zone: 'utc' }))).map((p) => p.key);
    assert.deepEqual(await months('2026-09-03T23:59:59Z'), []);
    assert.deepEqual(await months('2026-09-04T00:00:00Z'), ['2026-08']);
    assert.deepEqual(await months('2026-11-20T00:00:00Z'), ['2026-08', '2026-09', '2026-10']);
  });

  test('each tick finalizes every due month, and later ticks add nothing', async () => {
    const now = () => DateTime.fromISO('2026-11-20T00:00:00Z', { zone: 'utc' });
    const log = memoryLogger();
    const billing = createBilling({ pool: db.pool, prices: loadPriceBook(), graceHours: 72, now, log });
    const schedule = startSchedule({ pool: db.pool, billing, graceHours: 72, everyMs: 100, log, now });
    try {
      await eventually('three months finalized', async () => (await billing.invoices('s-1')).length === 3, 15_000);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await schedule.stop();
    }
    assert.deepEqual(
      log.lines.filter((l) => l.includes('schedule_failed')),
      [],
    );
    const invoices = await billing.invoices('s-1');
    assert.deepEqual(
      invoices.map((i) => [i.period, i.number, i.total]),
      [
        ['2026-10', '2026-10-000001', '7.00'],
        ['2026-09', '2026-09-000001', '7.00'],
        ['2026-08', '2026-08-000001', '2.71'],
      ],
    );
  });
});

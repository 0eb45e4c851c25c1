// A customer's view of a month is one composed statement per shape, prepared
// per connection. Read through sessions that keep generic plans (main.ts's
// view pool: plan_cache_mode = force_generic_plan), PostgreSQL plans it once
// and prunes metering's settled months as each run starts, instead of
// planning it again on every run (bench:usage: p99 60 → 24 ms with 13 settled
// months, 19 → 8 ms with none). Real PostgreSQL: the plans are read from
// pg_prepared_statements (without the setting, every run is planned again).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { openPool, withSessionSettings } from '@vault/db';
import type { TestDatabase } from '@vault/testkit';
import type pg from 'pg';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { billingDatabase, seedOwners, seedUsage } from './seed.ts';

let db: TestDatabase;
let viewPool: pg.Pool;

describe('an account’s view of a month, read through sessions that keep generic plans', () => {
  before(async () => {
    db = await billingDatabase();
    await seedOwners(db.pool, [{ app: 'app-v', account: 'acct-v', from: '2026-10-01T00:00:00Z' }]);
    await seedUsage(db.pool, [{ kind: 'dyno', app: 'app-v', key: 'web.1', product: 'dyno:basic', from: '2026-11-02T00:00:00Z' }]);
    // One connection, so the prepared statements read below are the ones the reads used.
    viewPool = openPool(withSessionSettings(db.url, { plan_cache_mode: 'force_generic_plan' }), { max: 1 });
  });
  after(async () => {
    await viewPool?.end();
    await db?.drop();
  });

  test('the draft and the usage view go through the view pool; each run after the first uses the one generic plan, none is planned again', async () => {
    const billing = createBilling({
      pool: db.pool,
      viewPool,
      prices: loadPriceBook(),
      graceHours: 72,
      now: () => DateTime.fromISO('2026-11-10T00:00:00Z', { zone: 'utc' }),
    });
    const first = await billing.draft('acct-v');
    for (let i = 0; i < 6; i++) assert.deepEqual(await billing.draft('acct-v'), first);
    await billing.usageView('acct-v');
    const { rows } = await viewPool.query<{ generic_plans: string; custom_plans: string }>(
      `select generic_plans::text, custom_plans::text from pg_prepared_statements where name like 'composed_%' order by generic_plans desc`,
    );
    assert.ok(rows.length >= 2, `a prepared composed statement per shape, got ${rows.length}`);
    assert.equal(rows[0]!.generic_plans, '7', 'the draft: seven runs of its generic plan');
    assert.ok(
      rows.every((r) => r.custom_plans === '0'),
      'no run planned for its own parameters',
    );
    const draft = first.lines.find((l) => l.app_id === 'app-v');
    assert.ok(draft, 'the draft has app-v’s usage');
  });
});

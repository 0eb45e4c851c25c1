// Issue 19, migration 017: on a database whose usage was folded before it ran,
// the migration fills the running intervals and the months' unowned usage the
// fold keeps from then on, so finalize's holds and running usage (which read
// them for apps with nothing queued) equal the live statements at once; a
// fold afterwards computes the same rows; a fold that does not keep them (code
// older than the migration) is refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { type AccountRows, openMonthStream } from '../src/billing/finalize-stream.ts';
import { readHolds } from '../src/billing/holds.ts';
import { readLineUsage } from '../src/billing/line-usage.ts';
import { FOLD_DAYS, foldAllUsageChanges } from '../src/billing/usage-days.ts';
import { parsePeriod } from '../src/domain/period.ts';
import { databaseBeforeMigration } from './seed.ts';

const DAY = 86_400_000;
const october = parsePeriod('2026-10');

describe('migration 017 over usage folded before it: running intervals and unowned months', () => {
  let db: TestDatabase;
  let older: Awaited<ReturnType<typeof databaseBeforeMigration>> | undefined;

  before(async () => {
    const made = await databaseBeforeMigration('usage_running', '017');
    older = made;
    db = made.db;
    // shop: acct-1 until Oct 10, nobody until Oct 20, then acct-2; its web.1 ran Sep 25 – Oct 15
    // (Oct 10–15 unowned) and worker.1 runs from Oct 12 (Oct 12–20 unowned). blog: never owned.
    // api: acct-1's, running since September.
    await db.pool.query(
      `insert into metering.app_ownership (app_id, account_id, during, learned_at) values
         ('shop', 'acct-1', '[2026-09-01Z, 2026-10-10Z)', now()),
         ('shop', 'acct-2', '[2026-10-20Z,)', now()),
         ('api', 'acct-1', '[2026-09-01Z,)', now())`,
    );
    await db.pool.query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at) values
         ('s-web', 'dyno', 'shop', 'web.1', 'dyno:basic', '[2026-09-25Z, 2026-10-15Z)', now()),
         ('s-worker', 'dyno', 'shop', 'worker.1', 'dyno:basic', '[2026-10-12Z,)', now()),
         ('s-blog', 'dyno', 'blog', 'web.1', 'dyno:basic', '[2026-10-05Z, 2026-10-06Z)', now()),
         ('s-api', 'dyno', 'api', 'web.1', 'dyno:standard-1x', '[2026-09-01Z,)', now())`,
    );
    // Folded as before migration 017: the days and months only, the queue emptied.
    await db.pool.query('delete from metering.usage_changes');
    await db.pool.query(FOLD_DAYS, [['shop', 'blog', 'api'], null]);
    await made.migrateRest();
  });
  after(async () => {
    await older?.drop();
  });

  const kept = async () => {
    const running = await db.pool.query(
      `select app_id, key, lower(during) as since, upper_inf(during) as running from invoicing.usage_running order by app_id, key`,
    );
    const unowned = await db.pool.query(`select month, app_id, ms::text from invoicing.unowned_months order by month, app_id`);
    return { running: running.rows, unowned: unowned.rows };
  };

  test('the migration keeps every running interval and each month’s unowned closed usage', async () => {
    assert.deepEqual(await kept(), {
      running: [
        { app_id: 'api', key: 'web.1', since: new Date('2026-09-01Z'), running: true },
        { app_id: 'shop', key: 'worker.1', since: new Date('2026-10-12Z'), running: true },
      ],
      unowned: [
        { month: new Date('2026-10-01Z'), app_id: 'blog', ms: String(DAY) },
        { month: new Date('2026-10-01Z'), app_id: 'shop', ms: String(5 * DAY) },
      ],
    });
  });

  test('with nothing queued, finalize’s holds and lines of the month equal the live statements’', async () => {
    const month = { from: october.start.toJSDate(), to: october.end.toJSDate() };
    const live = await readLineUsage(db.pool, month);
    const liveHolds = await readHolds(db.pool, month);
    const stream = await openMonthStream(db.pool, october);
    const streamed: AccountRows[] = [];
    try {
      for await (const chunk of stream.chunks(10)) for (const a of chunk) streamed.push(a);
    } finally {
      await stream.close();
    }
    assert.deepEqual(
      streamed.map((a) => a.account),
      ['acct-1', 'acct-2'],
    );
    for (const a of streamed) {
      const held = liveHolds.filter((h) => h.account_id === a.account).map(({ account_id, ...hold }) => hold);
      assert.deepEqual(a.holds, held, `holds of ${a.account}`);
      assert.deepEqual(
        a.usage.map(({ appId, kind, key, product, ms }) => JSON.stringify({ appId, kind, key, product, ms })).sort(),
        (live.get(a.account) ?? []).map((l) => JSON.stringify(l)).sort(),
        `lines of ${a.account}`,
      );
    }
    // shop: Oct 10–15 (closed) and Oct 12–20 (running) without an owner, on both of its owners.
    assert.deepEqual(streamed[0]!.holds, [
      { reason: 'unowned', app_id: 'shop', detail: `${(13 * DAY) / 1000} s of usage while the app had no owner` },
    ]);
  });

  test('a fold of every app afterwards computes the same rows', async () => {
    const before = await kept();
    await db.pool.query(`insert into metering.usage_changes (apps) values ('{shop,blog,api}')`);
    assert.equal(await foldAllUsageChanges(db.pool), 3);
    assert.deepEqual(await kept(), before);
  });

  test('a fold that does not keep them (code older than the migration) is refused', async () => {
    await assert.rejects(
      db.pool.query(`insert into invoicing.usage_days (account_id, day, month, app_id, kind, key, product, ms)
                     values ('acct-1', '2026-10-01Z', '2026-10-01Z', 'api', 'dyno', 'web.1', 'dyno:standard-1x', 1)`),
      /insert into invoicing\.usage_days refused: the fold keeps usage_running and unowned_months in the same transaction \(migration 017\)/,
    );
  });
});

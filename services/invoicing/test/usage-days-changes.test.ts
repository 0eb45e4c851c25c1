// Issue 19's aggregates beside the property test (usage-days.test.ts): usage
// settled by metering's archive reads as it did live, every write to
// metering's usage or ownership queues its app from the month it changes,
// and a fold from that month leaves the months before it alone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readAccountDays, readAccountUsage } from '../src/billing/account-usage.ts';
import { readLineUsage } from '../src/billing/line-usage.ts';
import { foldAllUsageChanges } from '../src/billing/usage-days.ts';
import {
  AGGREGATES,
  HOUR,
  MONTH_END,
  MONTH_START,
  assertMonthSameAsLive,
  sorted,
  writeOwners,
  suitePool,
  clearUsage,
  writeSubject,
} from './usage-days-world.ts';

describe('usage aggregates: settled usage and the change queue (real PostgreSQL)', () => {
  const pool = suitePool();

  test('usage settled by metering’s archive (its months’ tables pruned by last_month) reads as it did live: lines, days, the fold, finalize’s month and holds', async () => {
    await clearUsage(pool());
    await writeOwners(pool(), 'app-1', [{ account: 'acct-a', hours: 2000 }]);
    // Ending in September; exactly at October's first instant (still September's); crossing into October;
    // and in October, around the day the windows below start on.
    const spans = [
      ['settled-sep', '2026-09-26T00:00:00Z', '2026-09-27T00:00:00Z'],
      ['settled-edge', '2026-09-28T12:00:00Z', '2026-10-01T00:00:00Z'],
      ['settled-cross', '2026-09-30T00:00:00Z', '2026-10-02T06:00:00Z'],
      ['settled-oct', '2026-10-09T18:00:00Z', '2026-10-10T06:00:00Z'],
    ] as const;
    for (const [subject, from, to] of spans)
      await pool().query(
        `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
         values ($1, 'dyno', 'app-1', $1, 'dyno:basic', tstzrange($2, $3), now())`,
        [subject, from, to],
      );
    const october = { from: new Date(MONTH_START), to: new Date(MONTH_END) };
    const windows = [
      october,
      { from: new Date('2026-10-10T00:00:00Z'), to: new Date(MONTH_END) },
      { from: new Date('2026-09-01T00:00:00Z'), to: new Date(MONTH_START) },
    ];
    const read = async () => {
      await foldAllUsageChanges(pool());
      const out: unknown[] = [];
      for (const w of windows) {
        out.push(sorted((await readLineUsage(pool(), w)).get('acct-a') ?? []));
        out.push(sorted((await readAccountUsage(pool(), { account: 'acct-a', ...w })) ?? []));
        out.push(sorted((await readAccountDays(pool(), { account: 'acct-a', ...w })) ?? []));
      }
      for (const table of AGGREGATES) out.push(sorted((await pool().query(`select * from invoicing.${table}`)).rows));
      await assertMonthSameAsLive(pool(), 'settled');
      return out;
    };
    const live = await read();
    await pool().query(
      `insert into metering.archived_subjects (subject, last_sequence, archive_file, closed)
       select s, 2, 'metering-events-2026-10-0001.ndjson.gz', true from unnest($1::text[]) s`,
      [spans.map((x) => x[0])],
    );
    await pool().query('select metering.settle_usage($1::text[])', [spans.map((x) => x[0])]);
    const { rows } = await pool().query(
      `select s.subject, s.tableoid::regclass::text as t, b.last_month::text from metering.settled_usage s
         join metering.billable_usage b on b.during = s.during order by lower(s.during)`,
    );
    assert.deepEqual(
      rows.map((r) => [r.subject, r.t, r.last_month]),
      [
        ['settled-sep', 'metering.settled_usage_2026_09', '2026-09-01'],
        ['settled-edge', 'metering.settled_usage_2026_09', '2026-09-01'],
        ['settled-cross', 'metering.settled_usage_2026_10', '2026-10-01'],
        ['settled-oct', 'metering.settled_usage_2026_10', '2026-10-01'],
      ],
    );
    await pool().query(`insert into metering.usage_changes (apps) values ('{app-1}')`);
    assert.deepEqual(await read(), live, 'the same lines, days and aggregates, settled or live');
    await pool().query('truncate metering.settled_usage, metering.archived_subjects');
  });

  test('every write to metering’s usage or ownership queues its app, whoever writes it', async () => {
    await pool().query('truncate metering.usage_intervals, metering.app_ownership, metering.usage_changes, invoicing.usage_days');
    await writeSubject(pool(), { app: 'app-2', product: 'dyno:basic', steps: [{ gap: 1, hours: 2, micros: 0 }], open: false });
    await writeOwners(pool(), 'app-3', [{ account: 'acct-b', hours: 10 }]);
    await pool().query(`delete from metering.usage_intervals where app_id = 'app-2'`);
    const { rows } = await pool().query<{ apps: string[]; since: string }>(
      `select apps, to_char(since at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') as since from metering.usage_changes order by id`,
    );
    // Each row says from when it changes anything: the earliest start among the rows the statement wrote or cleared.
    assert.deepEqual(rows, [
      { apps: ['app-2'], since: '2026-09-25T01:00:00' },
      { apps: ['app-3'], since: '2026-09-25T00:00:00' },
      { apps: ['app-2'], since: '2026-09-25T01:00:00' },
    ]);
    // Per app: one statement writing an app of September and two of October queues a row per month.
    await pool().query('delete from metering.usage_changes');
    await pool().query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
       values ('q-1', 'dyno', 'app-1', 'web.1', 'dyno:basic', '[2026-09-30T00:00:00Z,2026-10-02T00:00:00Z)', now()),
              ('q-2', 'dyno', 'app-2', 'web.1', 'dyno:basic', '[2026-10-20T00:00:00Z,2026-10-21T00:00:00Z)', now()),
              ('q-3', 'dyno', 'app-3', 'web.1', 'dyno:basic', '[2026-10-05T00:00:00Z,)', now())`,
    );
    const perMonth = await pool().query<{ apps: string[]; since: string }>(
      `select apps, to_char(since at time zone 'UTC', 'YYYY-MM-DD') as since from metering.usage_changes order by since`,
    );
    assert.deepEqual(perMonth.rows, [
      { apps: ['app-1'], since: '2026-09-30' },
      { apps: ['app-2', 'app-3'], since: '2026-10-05' },
    ]);
  });

  test('a change folds its app again from its month on: the months before are not read again', async () => {
    await clearUsage(pool());
    await writeSubject(pool(), { app: 'app-1', product: 'dyno:basic', steps: [{ gap: 1, hours: 2, micros: 0 }], open: false });
    await writeOwners(pool(), 'app-1', [{ account: 'acct-a', hours: 2000 }]);
    await foldAllUsageChanges(pool());
    // September's day, changed by hand where the fold keeps it: a fold from October on leaves it as it is.
    await pool().query(`update invoicing.usage_days set ms = ms + 1 where app_id = 'app-1'`);
    await pool().query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
       values ('s-oct', 'dyno', 'app-1', 'web.9', 'dyno:basic', '[2026-10-02T00:00:00Z,2026-10-03T00:00:00Z)', now())`,
    );
    await foldAllUsageChanges(pool());
    const { rows } = await pool().query<{ day: string; ms: string }>(
      `select to_char(day at time zone 'UTC', 'YYYY-MM-DD') as day, ms::text from invoicing.usage_days where app_id = 'app-1' order by day`,
    );
    assert.deepEqual(rows, [
      { day: '2026-09-25', ms: String(2 * HOUR + 1) },
      { day: '2026-10-02', ms: String(24 * HOUR) },
    ]);
  });
});

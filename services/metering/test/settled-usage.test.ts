// Settled usage (issue 19, migration 016): intervals that came from archived
// events can never change, so the archive moves them out of the live table
// into a table by the month they ended in. The database keeps the two apart for any writer: no
// live usage of an archived subject before its kept event, nothing settled
// that is not (its subject archived, ended by its kept event, overlapping
// nothing of its subject). The migration settles what earlier runs left live.
import assert from 'node:assert/strict';
import { migrate } from '@vault/db';
import type { TestDatabase } from '@vault/testkit';
import { after, describe, test } from 'node:test';
import type pg from 'pg';
import { MIGRATIONS, meteringDatabase, meteringDatabaseBefore } from './harness.ts';

const databases: TestDatabase[] = [];
const track = (d: TestDatabase) => {
  databases.push(d);
  return d;
};

const usage = (c: pg.Pool, table: 'usage_intervals' | 'settled_usage', subject: string, from: string, to: string | null) =>
  c.query(
    `insert into metering.${table} (subject, kind, app_id, key, product, during, learned_at${table === 'settled_usage' ? ', month' : ''})
     values ($1, 'dyno', 'app-1', 'web.1', 'dyno:basic', tstzrange($2, $3), now()${table === 'settled_usage' ? ', metering.settled_month(tstzrange($2, $3))' : ''})`,
    [subject, from, to],
  );
const archive = (c: pg.Pool, subject: string, frozenBefore: string | null) =>
  c.query(
    `insert into metering.archived_subjects (subject, last_sequence, archive_file, closed, frozen_before)
     values ($1, 1, 'metering-events-2026-09-0001.ndjson.gz', $2::timestamptz is null, $2)`,
    [subject, frozenBefore],
  );
const refused = (err: unknown) => {
  assert.equal((err as { code?: string }).code, '23P01', (err as Error).message);
  return true;
};

describe('settled usage, kept apart from live usage by the database (real PostgreSQL)', () => {
  after(() => Promise.all(databases.map((d) => d.drop())));

  test('no writer puts live usage of an archived subject before its kept event, or any for a closed one; from the kept event on it is live', async () => {
    const d = track(await meteringDatabase());
    await archive(d.pool, 'dyno-open', '2026-09-10T00:00:00Z');
    await archive(d.pool, 'dyno-closed', null);
    await assert.rejects(usage(d.pool, 'usage_intervals', 'dyno-open', '2026-09-01T00:00:00Z', '2026-09-05T00:00:00Z'), refused);
    await assert.rejects(usage(d.pool, 'usage_intervals', 'dyno-closed', '2026-11-01T00:00:00Z', null), refused);
    await usage(d.pool, 'usage_intervals', 'dyno-open', '2026-09-10T00:00:00Z', null);
    await assert.rejects(
      d.pool.query(`update metering.usage_intervals set during = tstzrange('2026-09-09T00:00:00Z', null) where subject = 'dyno-open'`),
      refused,
    );
  });

  test('nothing is settled that is not: an unarchived subject, usage past the kept event, a running interval, an overlap', async () => {
    const d = track(await meteringDatabase());
    await d.pool.query(`select metering.ensure_settled_month(m) from unnest('{2026-09-01,2026-10-01}'::date[]) m`);
    await assert.rejects(d.pool.query(`select metering.ensure_settled_month('2026-09-02')`), /first day of a month/);
    await assert.rejects(usage(d.pool, 'settled_usage', 'dyno-new', '2026-09-01T00:00:00Z', '2026-09-02T00:00:00Z'), refused);
    await archive(d.pool, 'dyno-open', '2026-09-10T00:00:00Z');
    await assert.rejects(usage(d.pool, 'settled_usage', 'dyno-open', '2026-09-08T00:00:00Z', '2026-09-11T00:00:00Z'), refused);
    // Given a month, so that the table's own check refuses it rather than finding no partition.
    await assert.rejects(
      d.pool.query(
        `insert into metering.settled_usage (subject, kind, app_id, key, product, during, learned_at, month)
         values ('dyno-open', 'dyno', 'app-1', 'web.1', 'dyno:basic', '[2026-09-08T00:00:00Z,)', now(), '2026-09-01')`,
      ),
      (err: unknown) => {
        assert.equal((err as { code?: string }).code, '23514', 'a running interval is never settled');
        assert.match((err as Error).message, /check constraint/);
        return true;
      },
    );
    await usage(d.pool, 'settled_usage', 'dyno-open', '2026-09-01T00:00:00Z', '2026-09-05T00:00:00Z');
    await assert.rejects(usage(d.pool, 'settled_usage', 'dyno-open', '2026-09-04T00:00:00Z', '2026-09-06T00:00:00Z'), refused);
    await usage(d.pool, 'settled_usage', 'dyno-open', '2026-09-05T00:00:00Z', '2026-09-10T00:00:00Z');
    // A month's table of its own, found by the month the usage ended in.
    const { rows } = await d.pool.query(`select tableoid::regclass::text as t, count(*)::int as n from metering.settled_usage group by 1`);
    assert.deepEqual(rows, [{ t: 'metering.settled_usage_2026_09', n: 2 }]);
    await assert.rejects(usage(d.pool, 'settled_usage', 'dyno-closed', '2026-10-01T00:00:00Z', '2026-10-02T00:00:00Z'), refused);
    await archive(d.pool, 'dyno-closed', null);
    await usage(d.pool, 'settled_usage', 'dyno-closed', '2026-10-01T00:00:00Z', '2026-10-02T00:00:00Z');
    // Live usage written before its subject was archived, not yet settled: a settled row may not overlap it either.
    await usage(d.pool, 'usage_intervals', 'dyno-late', '2026-09-01T00:00:00Z', '2026-09-05T00:00:00Z');
    await archive(d.pool, 'dyno-late', '2026-09-10T00:00:00Z');
    await assert.rejects(usage(d.pool, 'settled_usage', 'dyno-late', '2026-09-03T00:00:00Z', '2026-09-04T00:00:00Z'), refused);
    const moved = await d.pool.query<{ n: string }>(`select metering.settle_usage('{dyno-late}')::text as n`);
    assert.equal(moved.rows[0]!.n, '1', 'settle_usage moves it');
    // A writer naming a month's table directly is checked the same.
    await assert.rejects(
      d.pool.query(
        `insert into metering.settled_usage_2026_09 (subject, kind, app_id, key, product, during, learned_at, month)
         values ('dyno-new', 'dyno', 'app-1', 'web.1', 'dyno:basic', '[2026-09-20T00:00:00Z,2026-09-21T00:00:00Z)', now(), '2026-09-01')`,
      ),
      refused,
    );
  });

  test('a change of settled usage is queued for invoicing like any other; the archive’s move, which changes nothing it reads, is not', async () => {
    const d = track(await meteringDatabase());
    await usage(d.pool, 'usage_intervals', 'dyno-q', '2026-09-01T00:00:00Z', '2026-09-05T00:00:00Z');
    await archive(d.pool, 'dyno-q', null);
    await d.pool.query('delete from metering.usage_changes');
    await d.pool.query(`select metering.settle_usage('{dyno-q}')`);
    const afterMove = await d.pool.query('select apps from metering.usage_changes');
    assert.deepEqual(afterMove.rows, [], 'the move is not a change');
    await d.pool.query(`delete from metering.settled_usage_2026_09 where subject = 'dyno-q'`);
    const afterDelete = await d.pool.query<{ apps: string[] }>('select apps from metering.usage_changes');
    assert.deepEqual(
      afterDelete.rows.map((r) => r.apps),
      [['app-1']],
      'a delete naming the month’s table is queued',
    );
  });

  test('a month of settled usage that was detached is not made again: the archive stops, naming the table', async () => {
    const d = track(await meteringDatabase());
    await d.pool.query(`select metering.ensure_settled_month('2026-08-01')`);
    await d.pool.query('alter table metering.settled_usage detach partition metering.settled_usage_2026_08');
    await assert.rejects(
      d.pool.query(`select metering.ensure_settled_month('2026-08-01')`),
      /settled_usage_2026_08 exists but is not a partition of settled_usage/,
    );
  });

  test('the settled month is the UTC month holding its last instant: an interval ending at midnight on the 1st belongs to the month before', async () => {
    const d = track(await meteringDatabase());
    const { rows } = await d.pool.query<{ a: string; b: string; c: string }>(
      `select metering.settled_month('[2026-08-20T00:00:00Z,2026-09-01T00:00:00Z)')::text as a,
              metering.settled_month('[2026-08-20T00:00:00Z,2026-09-01T00:00:00.000001Z)')::text as b,
              metering.settled_month('[2026-08-20T00:00:00Z,2026-09-01T01:30:00+02:00)')::text as c`,
    );
    assert.deepEqual(rows[0], { a: '2026-08-01', b: '2026-09-01', c: '2026-08-01' });
  });

  test('migration 016 settles what archives before it left live; billable usage reads the same rows before and after', async () => {
    const d = track(await meteringDatabaseBefore('metering_settled', '016'));
    await d.pool.query(
      `insert into metering.archived_subjects (subject, last_sequence, archive_file, closed, frozen_before) values
         ('dyno-closed', 2, 'f', true, null), ('addon-open', 2, 'f', false, '2026-10-03T00:00:00Z'), ('app-open', 1, 'f', false, '2026-10-02T00:00:00Z')`,
    );
    await d.pool.query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at) values
         ('dyno-closed', 'dyno', 'app-open', 'web.1', 'dyno:basic', '[2026-08-30T00:00:00Z,2026-09-02T00:00:00Z)', now()),
         ('addon-open', 'addon', 'app-open', 'addon-open', 'addon:pg:mini', '[2026-09-15T00:00:00Z,2026-10-03T00:00:00Z)', now()),
         ('addon-open', 'addon', 'app-open', 'addon-open', 'addon:pg:std', '[2026-10-03T00:00:00Z,)', now()),
         ('dyno-live', 'dyno', 'app-open', 'web.2', 'dyno:basic', '[2026-08-01T00:00:00Z,2026-08-02T00:00:00Z)', now())`,
    );
    await d.pool.query(
      `insert into metering.app_ownership (app_id, account_id, during, learned_at) values
         ('app-open', 'acct-1', '[2026-08-01T00:00:00Z,2026-10-02T00:00:00Z)', now()), ('app-open', 'acct-2', '[2026-10-02T00:00:00Z,)', now())`,
    );
    const billable = async () => ({
      usage: (await d.pool.query(`select app_id, key, product, during::text from metering.billable_usage order by key, lower(during)`))
        .rows,
      owners: (await d.pool.query(`select app_id, account_id, during::text from metering.billable_ownership order by lower(during)`)).rows,
    });
    const before = await billable();
    await migrate(d.pool, 'metering', MIGRATIONS);
    assert.deepEqual(await billable(), before);
    const settled = await d.pool.query(
      `select tableoid::regclass::text as t, subject, product from metering.settled_usage order by subject, lower(during)`,
    );
    assert.deepEqual(settled.rows, [
      { t: 'metering.settled_usage_2026_10', subject: 'addon-open', product: 'addon:pg:mini' },
      { t: 'metering.settled_usage_2026_09', subject: 'dyno-closed', product: 'dyno:basic' },
    ]);
    const owners = await d.pool.query(`select account_id from metering.app_ownership order by lower(during)`);
    assert.deepEqual(
      owners.rows.map((r) => r.account_id),
      ['acct-1', 'acct-2'],
      'ownership stays whole in app_ownership',
    );
    const live = await d.pool.query(`select subject from metering.usage_intervals order by subject`);
    assert.deepEqual(
      live.rows.map((r) => r.subject),
      ['addon-open', 'dyno-live'],
      'what can still change stays live',
    );
  });
});

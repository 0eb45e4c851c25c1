// Metering on a database an earlier commit migrated, with the rows that commit's
// code wrote: today's migrations apply (the earlier version is accepted) and the
// follow-ups bring the rows to today's shape, so what reads and writes them works.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type pg from 'pg';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { archiveEvents } from '../services/metering/src/archive/archive-events.ts';
import { foldAllUsageChanges } from '../services/invoicing/src/billing/usage-days.ts';
import { seedOwners, seedUsage } from '../services/invoicing/test/seed.ts';
import { earlierState, migrateAsOf, migrateNow } from './earlier-migrations.ts';

const dbs: TestDatabase[] = [];
async function database(): Promise<pg.Pool> {
  const db = await freshDatabase('earlier_metering');
  dbs.push(db);
  return db.pool;
}

describe('metering upgraded from a database an earlier commit migrated (real PostgreSQL)', () => {
  after(async () => {
    for (const db of dbs) await db.drop();
  });

  for (const commit of ['f2e7a38', 'ce35f48']) {
    test(`010's ${commit === 'f2e7a38' ? 'first' : 'second'} version (${commit}): usage from before it is queued, queued rows keep their apps, and the fold counts all of it`, async () => {
      const pool = await database();
      const state = earlierState(commit);
      // Usage metering held before 010 applied, which that version never queued.
      await migrateAsOf(pool, { commit, metering: state.metering!.filter((f) => f < '010') }, ['metering']);
      await seedOwners(pool, [
        { app: 'app-before', account: 'acct-1', from: '2026-02-01T00:00:00Z' },
        { app: 'app-after', account: 'acct-1', from: '2026-02-01T00:00:00Z' },
      ]);
      await seedUsage(pool, [
        { app: 'app-before', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-03-02T00:00:00Z', to: '2026-03-02T01:00:00Z' },
      ]);
      await migrateAsOf(pool, state);
      // Usage that release's triggers queued, in its shape.
      await seedUsage(pool, [
        { app: 'app-after', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-03-03T00:00:00Z', to: '2026-03-03T02:00:00Z' },
      ]);
      await migrateNow(pool);

      const { rows: queued } = await pool.query<{ app: string }>(
        'select distinct unnest(apps) as app from metering.usage_changes order by 1',
      );
      assert.deepEqual(
        queued.map((r) => r.app),
        ['app-after', 'app-before'],
      );
      assert.ok((await foldAllUsageChanges(pool)) > 0);
      const { rows: days } = await pool.query(`select app_id, ms::text from invoicing.usage_days order by app_id`);
      assert.deepEqual(days, [
        { app_id: 'app-after', ms: '7200000' },
        { app_id: 'app-before', ms: '3600000' },
      ]);
      // Today's writers queue in today's shape.
      await seedUsage(pool, [
        { app: 'app-next', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-03-04T00:00:00Z', to: '2026-03-04T01:00:00Z' },
      ]);
      const { rows: next } = await pool.query(`select apps, since is not null as since from metering.usage_changes`);
      assert.deepEqual(next, [{ apps: ['app-next'], since: true }]);
    });
  }

  test("011's first version (5cf4228): its archive files get dir '' (unknown), and the next archive run redoes the one it left writing", async () => {
    const pool = await database();
    await migrateAsOf(pool, earlierState('5cf4228'));
    await pool.query(
      `insert into metering.archive_files (name, state, month, events, subjects, finished_at) values
         ('metering-events-2025-01-0001.ndjson.gz', 'done', '2025-01', 3, 1, now()),
         ('metering-events-2025-01-0002.ndjson.gz', 'writing', '2025-01', null, null, null)`,
    );
    await migrateNow(pool);
    const { rows } = await pool.query('select name, state, dir from metering.archive_files order by name');
    assert.deepEqual(rows, [
      { name: 'metering-events-2025-01-0001.ndjson.gz', state: 'done', dir: '' },
      { name: 'metering-events-2025-01-0002.ndjson.gz', state: 'writing', dir: '' },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'earlier-archive-'));
    process.chdir(dir);
    const result = await archiveEvents(pool, { before: new Date('2025-02-01T00:00:00Z'), dir });
    assert.equal(result.redone, 1);
    const { rows: left } = await pool.query('select name, state from metering.archive_files');
    assert.deepEqual(left, [{ name: 'metering-events-2025-01-0001.ndjson.gz', state: 'done' }]);
  });

  test("014's first version (f692089): events.sequence takes any safe integer again", async () => {
    const pool = await database();
    await migrateAsOf(pool, earlierState('f692089'));
    await migrateNow(pool);
    await pool.query(
      `insert into metering.events (source, id, type, subject, sequence, time, data)
       values ('src', 'e-1', 'dyno.started', 'subj-1', $1, now(), '{}')`,
      [String(2 ** 40)],
    );
    const { rows } = await pool.query('select sequence::text from metering.events');
    assert.deepEqual(rows, [{ sequence: String(2 ** 40) }]);
  });

  test("016's first version (7370711): a settled month's table it made gets its own triggers, so a statement naming it is checked too", async () => {
    const pool = await database();
    await migrateAsOf(pool, earlierState('7370711'));
    await pool.query(`select metering.ensure_settled_month('2026-01-01')`);
    await migrateNow(pool);
    const { rows } = await pool.query(
      `select tgname from pg_trigger where tgrelid = 'metering.settled_usage_2026_01'::regclass and not tgisinternal order by 1`,
    );
    assert.deepEqual(
      rows.map((r) => r.tgname),
      ['changed_delete', 'changed_insert', 'changed_update', 'checked_insert', 'checked_update'],
    );
    await assert.rejects(
      pool.query(
        `insert into metering.settled_usage_2026_01 (subject, kind, app_id, key, product, during, learned_at, month)
         values ('subj-1', 'dyno', 'app-1', 'web.1', 'dyno:basic', tstzrange('2026-01-02', '2026-01-03'), now(), '2026-01-01')`,
      ),
      /settled_usage_no_overlap/,
    );
  });
});

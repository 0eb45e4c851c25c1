// The usage horizon (issue 19, migration 018): usage before it is final. The
// consumer rejects an event timed before it, naming `time` and the horizon
// (a re-send of an event it has is still a duplicate); the horizon moves only
// forward, only as far as the gate allows, and never while a batch judged
// against the old one is in flight; settled months before it leave for gzip
// NDJSON files and their tables are dropped, a killed run's leftovers
// included. Real PostgreSQL, the real consumer's batch path and archive.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { TestDatabase } from '@vault/testkit';
import { archiveEvents } from '../src/archive/archive-events.ts';
import { lockSubjects } from '../src/consumer/apply-batch.ts';
import { archiveBounds } from '../src/consumer/stored-hashes.ts';
import { archiveSettledMonths, type HorizonGate, moveUsageHorizon } from '../src/archive/archive-usage.ts';
import { applyRaw, meteringDatabase, settledTables } from './harness.ts';

const NOW = Date.parse('2026-12-01T00:00:00Z');
const event = (id: string, subject: string, sequence: number, time: string, type = 'dyno.started') =>
  JSON.stringify({
    specversion: '1.0',
    id,
    source: 'dyno-manager',
    type,
    time,
    subject,
    sequence,
    data: type === 'dyno.started' ? { app_id: 'app-1', name: 'web.1', size: 'basic' } : { app_id: 'app-1' },
  });
const allFinal: HorizonGate = async () => null;
const horizonOf = async (db: TestDatabase) =>
  (await db.pool.query<{ period: string }>('select period from metering.billable_horizon')).rows[0]?.period ?? null;
/** A settled interval, written as the archive settles one (its subject archived, closed). */
async function settle(db: TestDatabase, subject: string, from: string, to: string): Promise<void> {
  await db.pool.query(
    `insert into metering.archived_subjects (subject, last_sequence, archive_file, closed) values ($1, 2, 'f', true) on conflict do nothing`,
    [subject],
  );
  await db.pool.query(`select metering.ensure_settled_month(metering.settled_month(tstzrange($1, $2)))`, [from, to]);
  await db.pool.query(
    `insert into metering.settled_usage (subject, kind, app_id, key, product, during, learned_at, month)
     values ($1, 'dyno', 'app-1', 'web.1', 'dyno:basic', tstzrange($2, $3), $3, metering.settled_month(tstzrange($2, $3)))`,
    [subject, from, to],
  );
}

describe('the usage horizon (real PostgreSQL)', () => {
  let db: TestDatabase;
  let dir: string;
  const lines: string[] = [];
  const say = async (line: string) => {
    lines.push(line);
  };
  before(async () => {
    db = await meteringDatabase();
    dir = await mkdtemp(join(tmpdir(), 'vault-horizon-'));
  });
  after(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  test('an event timed before the horizon is rejected naming time and the horizon; one at its first instant applies; a stored event re-sent stays a duplicate', async () => {
    const old = event('h-1', 'dyno-h1', 1, '2025-09-30T23:59:59.999Z');
    assert.equal((await applyRaw(db, [old], NOW)).applied, 1);
    const move = await moveUsageHorizon(db.pool, '2025-10', allFinal);
    assert.deepEqual(move, { from: null, to: '2025-10' });
    const r = await applyRaw(
      db,
      [old, event('h-2', 'dyno-h2', 1, '2025-09-30T23:59:59.999Z'), event('h-3', 'dyno-h3', 1, '2025-10-01T00:00:00Z')],
      NOW,
    );
    assert.equal(r.duplicates, 1, 'the stored event re-sent');
    assert.equal(r.applied, 1, 'the event at the horizon');
    assert.equal(r.rejected.length, 1);
    assert.equal(r.rejected[0]!.eventId, 'h-2');
    assert.equal(r.rejected[0]!.reasons[0]!.field, 'time');
    assert.match(r.rejected[0]!.reasons[0]!.message, /before the usage horizon \(2025-10\)/);
    const stored = await db.pool.query(`select subject from metering.events order by subject`);
    assert.deepEqual(
      stored.rows.map((x) => x.subject),
      ['dyno-h1', 'dyno-h3'],
    );
    const kept = await db.pool.query(`select event_id, reasons->0->>'field' as field from metering.rejected_events`);
    assert.deepEqual(kept.rows, [{ event_id: 'h-2', field: 'time' }], 'kept with its reason, to fix and re-submit');
  });

  test('a stop that comes after the horizon passed its time is refused saying how to end the usage still running; re-submitted timed at the horizon, it ends it there', async () => {
    const own = await meteringDatabase();
    try {
      await runningThenStopped(own);
    } finally {
      await own.drop();
    }
  });

  /** A dyno running since before the horizon, whose stop, timed before it, arrives after it moved. */
  async function runningThenStopped(db: TestDatabase): Promise<void> {
    assert.equal((await applyRaw(db, [event('h-7', 'dyno-h7', 1, '2025-08-01T00:00:00Z')], NOW)).applied, 1);
    await moveUsageHorizon(db.pool, '2025-10', allFinal);
    const stop = (time: string) => event('h-8', 'dyno-h7', 2, time, 'dyno.stopped');
    const late = await applyRaw(db, [stop('2025-09-15T00:00:00Z')], NOW);
    assert.equal(late.applied, 0);
    assert.match(
      late.rejected[0]!.reasons[0]!.message,
      /before the usage horizon \(2025-10\): .* \(to end usage still running, re-submit it timed at 2025-10-01T00:00:00\.000Z\)$/,
    );
    const fixed = await applyRaw(db, [stop('2025-10-01T00:00:00Z')], NOW);
    assert.equal(fixed.applied, 1, 'the fixed stop applies');
    const { rows } = await db.pool.query(`select upper(during) as until from metering.usage_intervals where subject = 'dyno-h7'`);
    assert.deepEqual(rows, [{ until: new Date('2025-10-01T00:00:00Z') }], 'running no more: it ends at the horizon');
  }

  test('an id of a stored event, reused before the horizon by a subject without a history, is rejected as reused, as the intake answers it', async () => {
    // dyno-h5 has nothing stored, so its event is looked up by key only once the horizon refuses it.
    const r = await applyRaw(
      db,
      [event('h-1', 'dyno-h5', 1, '2025-09-01T00:00:00Z'), event('h-6', 'dyno-h6', 1, '2025-09-01T00:00:00Z')],
      NOW,
    );
    assert.equal(r.applied, 0);
    assert.deepEqual(r.rejected.map((x) => [x.eventId, x.reasons.map((y) => `${y.field}:${y.code}`)]).sort(), [
      ['h-1', ['id:id_reused']],
      ['h-6', ['time:store_refused']],
    ]);
  });

  test('the horizon moves only forward, and no further than the gate allows', async () => {
    const gate: HorizonGate = async (_client, before, from) => {
      assert.equal(before, '2026-03');
      assert.equal(from, '2025-10');
      return { period: '2026-01', reason: 'an account has no invoice of it' };
    };
    assert.deepEqual(await moveUsageHorizon(db.pool, '2026-03', gate), {
      from: '2025-10',
      to: '2026-01',
      stoppedAt: { period: '2026-01', reason: 'an account has no invoice of it' },
    });
    assert.deepEqual(await moveUsageHorizon(db.pool, '2025-11', allFinal), { from: '2026-01', to: '2026-01' }, 'never back');
    const stuck: HorizonGate = async () => ({ period: '2025-12', reason: 'held' });
    assert.equal((await moveUsageHorizon(db.pool, '2026-06', stuck)).to, '2026-01', 'an open month before it keeps it where it is');
    await assert.rejects(db.pool.query(`update metering.usage_horizon set month = '2025-01-01'`), /only moves forward/);
    await assert.rejects(db.pool.query(`delete from metering.usage_horizon`), /only moves forward/);
    assert.equal(await horizonOf(db), '2026-01');
  });

  test('a batch in flight keeps the horizon where it judged it until it commits; the next batch sees the move', async () => {
    const batch = await db.pool.connect();
    try {
      await batch.query('begin');
      await lockSubjects(batch, ['dyno-inflight']);
      let moved = false;
      const move = moveUsageHorizon(db.pool, '2026-02', allFinal).then((m) => {
        moved = true;
        return m;
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(moved, false, 'the move waits for the batch');
      const judged = await archiveBounds(batch, ['dyno-inflight']);
      assert.equal(judged.horizon?.toISOString(), '2026-01-01T00:00:00.000Z', 'the batch is judged against the horizon it locked');
      await batch.query('commit');
      assert.equal((await move).to, '2026-02');
      const next = await db.pool.connect();
      try {
        await next.query('begin');
        await lockSubjects(next, ['dyno-next']);
        assert.equal(
          (await archiveBounds(next, ['dyno-next'])).horizon?.toISOString(),
          '2026-02-01T00:00:00.000Z',
          'the next batch sees the move',
        );
        await next.query('commit');
      } finally {
        next.release();
      }
    } finally {
      batch.release();
    }
  });

  test('a settled month’s table is made under an exclusive lock (migration 019): while a reader of billable_usage holds it, it is not made (55P03 at once), then it is', async () => {
    const reader = await db.pool.connect();
    try {
      await reader.query('begin');
      // A statement planned before the month's table exists; its transaction still open.
      await reader.query(`select count(*) from metering.billable_usage where last_month >= '2024-01-01'`);
      await assert.rejects(db.pool.query(`select metering.ensure_settled_month('2024-03-01')`), (err: { code?: string }) => {
        assert.equal(err.code, '55P03');
        return true;
      });
      assert.ok(!(await settledTables(db)).includes('settled_usage_2024_03'));
      await reader.query('commit');
    } finally {
      reader.release();
    }
    await db.pool.query(`select metering.ensure_settled_month('2024-03-01')`);
    assert.ok((await settledTables(db)).includes('settled_usage_2024_03'));
    await db.pool.query('drop table metering.settled_usage_2024_03');
  });

  test('settled months before the horizon go to gzip NDJSON files and their tables are dropped; later months stay', async () => {
    await settle(db, 'dyno-s1', '2025-11-03T00:00:00Z', '2025-11-04T00:00:00Z');
    await settle(db, 'dyno-s2', '2025-11-05T00:00:00Z', '2025-12-01T00:00:00Z');
    await settle(db, 'dyno-s3', '2026-01-30T00:00:00Z', '2026-02-02T00:00:00Z');
    await settle(db, 'dyno-s4', '2026-02-10T00:00:00Z', '2026-02-11T00:00:00Z');
    // A page of one interval: the file is read across pages, in order, each once.
    const out = await archiveSettledMonths(db.pool, dir, say, 1);
    // The horizon is 2026-02: an interval ending in February (dyno-s3 from January) is of February.
    assert.deepEqual(out, [{ month: '2025-11', file: 'metering-usage-2025-11-0001.ndjson.gz', intervals: 2 }]);
    assert.deepEqual(await settledTables(db), ['settled_usage_2026_02']);
    const text = gunzipSync(await readFile(join(dir, 'metering-usage-2025-11-0001.ndjson.gz'))).toString('utf8');
    assert.deepEqual(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
      [
        {
          subject: 'dyno-s1',
          kind: 'dyno',
          app_id: 'app-1',
          key: 'web.1',
          product: 'dyno:basic',
          start: '2025-11-03T00:00:00.000000Z',
          end: '2025-11-04T00:00:00.000000Z',
          learned_at: '2025-11-04T00:00:00.000000Z',
        },
        {
          subject: 'dyno-s2',
          kind: 'dyno',
          app_id: 'app-1',
          key: 'web.1',
          product: 'dyno:basic',
          start: '2025-11-05T00:00:00.000000Z',
          end: '2025-12-01T00:00:00.000000Z',
          learned_at: '2025-12-01T00:00:00.000000Z',
        },
      ],
    );
    const usage = await db.pool.query(
      `select app_id, lower(during)::text as from from metering.billable_usage where last_month < 'infinity' order by 2`,
    );
    assert.equal(usage.rows.length, 2, 'the 2026-02 months stay readable');
    const files = await db.pool.query(`select name, state, kind, intervals from metering.archive_files order by name`);
    assert.deepEqual(files.rows, [{ name: 'metering-usage-2025-11-0001.ndjson.gz', state: 'done', kind: 'usage', intervals: 2 }]);
    assert.match(
      lines.at(-1)!,
      /^archived 2 settled usage intervals \(2025-11\) to metering-usage-2025-11-0001\.ndjson\.gz; dropped its table$/,
    );
  });

  test("a killed run's leftovers: an unfinished file is written again, an emptied table and a detached one are dropped, a month settling again gets a file of its own", async () => {
    // Killed while writing: its record says `writing`, a partial file lies beside; the rows are still in the table.
    await settle(db, 'dyno-k1', '2025-12-01T00:00:00Z', '2025-12-02T00:00:00Z');
    await db.pool.query(
      `insert into metering.archive_files (name, state, month, dir, kind) values ('metering-usage-2025-12-0001.ndjson.gz', 'writing', '2025-12', $1, 'usage')`,
      [dir],
    );
    await writeFile(join(dir, 'metering-usage-2025-12-0001.ndjson.gz.part'), 'partial');
    // Killed after its rows left, before the detach: an empty attached table.
    await db.pool.query(`select metering.ensure_settled_month('2025-10-01')`);
    // Killed between the detach and the drop: a detached, empty table.
    await db.pool.query(`select metering.ensure_settled_month('2025-09-01')`);
    await db.pool.query(`alter table metering.settled_usage detach partition metering.settled_usage_2025_09`);
    // An archived subject's old interval settling again into a month already archived.
    await settle(db, 'dyno-k2', '2025-11-20T00:00:00Z', '2025-11-21T00:00:00Z');
    // The whole run, as `vault archive` runs it (no event is old enough to go).
    const run = await archiveEvents(db.pool, {
      before: new Date('2025-01-01T00:00:00Z'),
      dir,
      usage: { before: '2026-02', gate: allFinal },
    });
    assert.equal(run.redone, 1, 'the unfinished file');
    assert.deepEqual(run.horizon, { from: '2026-02', to: '2026-02' });
    assert.deepEqual(run.usageMonths, [
      { month: '2025-09', file: null, intervals: 0 },
      { month: '2025-10', file: null, intervals: 0 },
      { month: '2025-11', file: 'metering-usage-2025-11-0002.ndjson.gz', intervals: 1 },
      { month: '2025-12', file: 'metering-usage-2025-12-0001.ndjson.gz', intervals: 1 },
    ]);
    assert.deepEqual(await settledTables(db), ['settled_usage_2026_02']);
    assert.deepEqual((await readdir(dir)).sort(), [
      'metering-usage-2025-11-0001.ndjson.gz',
      'metering-usage-2025-11-0002.ndjson.gz',
      'metering-usage-2025-12-0001.ndjson.gz',
    ]);
    const second = gunzipSync(await readFile(join(dir, 'metering-usage-2025-11-0002.ndjson.gz'))).toString('utf8');
    assert.deepEqual(
      second
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).subject),
      ['dyno-k2'],
      'only what settled since: nothing archived twice',
    );
  });

  test('an events-only run after a killed run left a settled month detached: the leftover is dropped first, then usage settles into that month again; the horizon stays', async () => {
    const fresh = await meteringDatabase();
    const dirFresh = await mkdtemp(join(tmpdir(), 'vault-horizon-events-only-'));
    try {
      // A dyno of September the archive can take now.
      const stopped = await applyRaw(
        fresh,
        [event('x-1', 'dyno-x1', 1, '2025-09-01T00:00:00Z'), event('x-2', 'dyno-x1', 2, '2025-09-02T00:00:00Z', 'dyno.stopped')],
        NOW,
      );
      assert.equal(stopped.applied, 2);
      // What a full run killed between the detach and the drop leaves: September's table, detached and empty.
      await fresh.pool.query(`select metering.ensure_settled_month('2025-09-01')`);
      await fresh.pool.query(`alter table metering.settled_usage detach partition metering.settled_usage_2025_09`);
      const run = await archiveEvents(fresh.pool, { before: new Date(Date.now() + 60_000), dir: dirFresh });
      assert.deepEqual(run.usageMonths, [{ month: '2025-09', file: null, intervals: 0 }], 'the leftover, dropped');
      assert.deepEqual([run.subjects, run.settled], [1, 1]);
      const settled = await fresh.pool.query(`select subject from metering.settled_usage where month = '2025-09-01'`);
      assert.deepEqual(settled.rows, [{ subject: 'dyno-x1' }], 'settled into September made again, attached');
      assert.equal(await horizonOf(fresh), null, 'events only: the horizon stays where it was');
    } finally {
      await fresh.drop();
      await rm(dirFresh, { recursive: true, force: true });
    }
  });
});

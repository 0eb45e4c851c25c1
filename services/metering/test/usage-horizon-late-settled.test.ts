// A settled month before the usage horizon that holds usage learned late
// (docs/contracts/metering.md, "Usage horizon"): a stop re-submitted timed at
// the horizon ends its dyno in the month before it, and the archive settles
// the interval there, while every month from the horizon on was invoiced with
// the dyno running. Invoicing carries the credit from that row; dropping the
// month with the horizon would lose it. The month stays while a row of it was
// learned after the horizon's month ended (less the late margin), and the
// first usage run after the horizon moved past goes on as before. Real
// PostgreSQL.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { archiveEvents } from '../src/archive/archive-events.ts';
import { archiveSettledMonths, type HorizonGate, LATE_MARGIN, moveUsageHorizon } from '../src/archive/archive-usage.ts';
import { meteringDatabase, settledTables } from './harness.ts';

const allFinal: HorizonGate = async () => null;

/** A settled interval of `subject`, learned at `learnedAt`, as the archive settles one. */
async function settle(db: TestDatabase, subject: string, from: string, to: string, learnedAt: string): Promise<void> {
  await db.pool.query(
    `insert into metering.archived_subjects (subject, last_sequence, archive_file, closed) values ($1, 2, 'f', true) on conflict do nothing`,
    [subject],
  );
  await db.pool.query(`select metering.ensure_settled_month(metering.settled_month(tstzrange($1, $2)))`, [from, to]);
  await db.pool.query(
    `insert into metering.settled_usage (subject, kind, app_id, key, product, during, learned_at, month)
     values ($1, 'dyno', 'app-1', $1, 'dyno:basic', tstzrange($2, $3), $4, metering.settled_month(tstzrange($2, $3)))`,
    [subject, from, to, learnedAt],
  );
}

describe('settled months before the horizon holding usage learned late (real PostgreSQL)', () => {
  let db: TestDatabase;
  let dir: string;
  const lines: string[] = [];
  const say = async (line: string) => {
    lines.push(line);
  };
  before(async () => {
    db = await meteringDatabase();
    dir = await mkdtemp(join(tmpdir(), 'vault-horizon-late-'));
  });
  after(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a settled month before the horizon holding a stop learned after the horizon’s month ended stays (no file), until the horizon moves past the months it may change; then the next run archives it', async () => {
    // Learned when they ended: January goes with the horizon as before.
    await settle(db, 'jan', '2026-01-05T00:00:00Z', '2026-01-20T00:00:00Z', '2026-01-20T00:00:01Z');
    // February: one learned in time, and a dyno running since January 10 whose stop, refused
    // before the horizon, was re-submitted timed at it (March 1) and learned in December.
    await settle(db, 'feb-in-time', '2026-02-02T00:00:00Z', '2026-02-03T00:00:00Z', '2026-02-03T00:00:01Z');
    await settle(db, 'feb-late-stop', '2026-01-10T00:00:00Z', '2026-03-01T00:00:00Z', '2026-12-06T10:00:00Z');
    await settle(db, 'mar', '2026-03-02T00:00:00Z', '2026-03-03T00:00:00Z', '2026-03-03T00:00:01Z');
    assert.equal((await moveUsageHorizon(db.pool, '2026-03', allFinal)).to, '2026-03');

    const first = await archiveSettledMonths(db.pool, dir, say);
    assert.deepEqual(
      first.map((m) => [m.month, m.intervals]),
      [['2026-01', 1]],
    );
    assert.deepEqual(await settledTables(db), ['settled_usage_2026_02', 'settled_usage_2026_03']);
    assert.ok(lines.some((l) => /kept the settled usage of 2026-02/.test(l)));
    const files = await db.pool.query<{ month: string }>(`select month from metering.archive_files where kind = 'usage' order by 1`);
    assert.deepEqual(
      files.rows.map((r) => r.month),
      ['2026-01'],
    );

    // Run again (a later archive, the horizon where it was): still kept, nothing written.
    assert.deepEqual(await archiveSettledMonths(db.pool, dir, say), []);
    // The horizon moves to November: November's invoice (finalized after November ended) may still take it as late.
    // March goes with it, as before.
    await moveUsageHorizon(db.pool, '2026-11', allFinal);
    assert.deepEqual(
      (await archiveSettledMonths(db.pool, dir, say)).map((m) => m.month),
      ['2026-03'],
    );
    assert.deepEqual(await settledTables(db), ['settled_usage_2026_02']);

    // Past December (the gate saw every month it may change carried): an ordinary usage run archives it.
    await moveUsageHorizon(db.pool, '2026-12', allFinal);
    const r = await archiveEvents(db.pool, { before: new Date('2026-12-01T00:00:00Z'), dir, usage: { before: '2026-12', gate: allFinal } });
    assert.deepEqual(
      r.usageMonths.map((m) => [m.month, m.intervals]),
      [['2026-02', 2]],
    );
    assert.deepEqual(await settledTables(db), []);
  });

  test('the bound: a row learned up to the late margin before the month after the horizon ends lets its month go; one learned after keeps it', async () => {
    const own = await meteringDatabase();
    const ownDir = await mkdtemp(join(tmpdir(), 'vault-horizon-late-'));
    try {
      const { rows } = await own.pool.query<{ bound: string; after: string }>(
        `select to_char(b at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as bound,
                to_char((b + interval '1 millisecond') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as after
           from (select '2026-05-01T00:00:00Z'::timestamptz - $1::interval as b) x`,
        [LATE_MARGIN],
      );
      await settle(own, 'at-bound', '2026-02-10T00:00:00Z', '2026-03-01T00:00:00Z', rows[0]!.bound);
      await settle(own, 'after-bound', '2026-01-10T00:00:00Z', '2026-02-01T00:00:00Z', rows[0]!.after);
      // Horizon April: April's invoice is finalized after May 1, so only what was learned after May 1 less the margin may change it.
      await moveUsageHorizon(own.pool, '2026-04', allFinal);
      const out = await archiveSettledMonths(own.pool, ownDir, say);
      assert.deepEqual(
        out.map((m) => m.month),
        ['2026-02'],
      );
      assert.deepEqual(await settledTables(own), ['settled_usage_2026_01']);
    } finally {
      await own.drop();
      await rm(ownDir, { recursive: true, force: true });
    }
  });
});

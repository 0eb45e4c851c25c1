// Issue 19: raw events older than the retention leave the database for NDJSON
// gzip files, and deduplication stays permanent: an archived event re-sent is
// a duplicate, its id with other content still rejected, and an event after a
// closed, archived subject's last is refused. Real PostgreSQL, the real
// consumer's batch path and the real archive; a killed run is redone.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { TestDatabase } from '@vault/testkit';
import { archiveEvents } from '../src/archive/archive-events.ts';
import type { BatchResult } from '../src/consumer/apply-batch.ts';
import { cutAfterNow, event, NOW } from './archive-fixture.ts';
import { applyRaw, exampleLines, meteringDatabase, usageOf } from './harness.ts';

const CLOSED = ['addon-log1', 'dyno-d1', 'dyno-r1'];
/** The settled intervals after the first run: the closed subjects' all, addon-pg1's first plan (month table, subject). */
const SETTLED_USAGE = ['addon-log1', 'addon-pg1', 'dyno-d1', 'dyno-r1'].map((s) => ['metering.settled_usage_2026_10', s]);

let db: TestDatabase;
/** The same valid events, never archived: what the archived database's usage must equal. */
let reference: TestDatabase;
let dir: string;

const apply = (raws: string[]) => applyOn(db, raws);
/** Events valid in both: applied to the archiving database and to the reference. */
async function applyBoth(raws: string[]): Promise<BatchResult> {
  await applyOn(reference, raws);
  return applyOn(db, raws);
}

const applyOn = (on: TestDatabase, raws: string[]): Promise<BatchResult> => applyRaw(on, raws, NOW);

/** Every line of every archive file in `dir`, parsed, with the file it is in. */
async function archived(): Promise<{ file: string; event: { id: string; source: string; subject: string }; content_hash: string }[]> {
  const out = [];
  for (const file of (await readdir(dir)).sort()) {
    const text = gunzipSync(await readFile(join(dir, file))).toString('utf8');
    for (const line of text.split('\n').filter(Boolean)) out.push({ file, ...JSON.parse(line) });
  }
  return out;
}

const stored = async () =>
  (
    await db.pool.query<{ subject: string; id: string; content_hash: string }>(
      `select e.subject, e.id, encode(k.content_hash, 'hex') as content_hash
         from metering.events e join metering.event_keys k using (source, id) order by e.subject, e.id`,
    )
  ).rows;
const october = () => exampleLines('october.ndjson');
const eventOf = (id: string) => october().find((l) => JSON.parse(l).id === id)!;

describe('archive of old events (real PostgreSQL)', () => {
  before(async () => {
    db = await meteringDatabase();
    reference = await meteringDatabase();
    dir = await mkdtemp(join(tmpdir(), 'vault-archive-'));
    await applyBoth(october());
    // As the HTTP intake leaves them: a claim per key it answered.
    await db.pool.query(
      `insert into metering.intake_claims (source, id, content_hash, claim) select source, id, encode(content_hash, 'hex'), gen_random_uuid() from metering.event_keys`,
    );
  });
  after(async () => {
    await db?.drop();
    await reference?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  test("old events leave the database for gzip NDJSON files: a closed subject's all, an open one's all but its last before the cut; usage does not change", async () => {
    const usage = await usageOf(db);
    const before = await stored();
    const r = await archiveEvents(db.pool, { before: cutAfterNow(), dir });
    // app-2's creation (September; its transfer is kept) and the October file: three closed subjects, addon-pg1's provisioning.
    assert.deepEqual(r.files, ['metering-events-2026-09-0001.ndjson.gz', 'metering-events-2026-10-0001.ndjson.gz']);
    assert.equal(r.subjects, 5);
    assert.equal(r.events, 8);
    const after = await stored();
    const gone = new Set(['evt-0001', 'evt-0002', 'evt-0003', 'evt-0004', 'evt-0006', 'evt-0010', 'evt-0011', 'evt-0012', 'evt-0013']);
    gone.delete('evt-0001'); // app-1 has one event: it is its last before the cut, kept.
    assert.deepEqual(
      after,
      before.filter((e) => !gone.has(e.id)),
      'what stays: every open subject’s last event before the cut, and the events after it',
    );
    assert.deepEqual(
      after.map((e) => e.subject).filter((s) => CLOSED.includes(s)),
      [],
      'no event of a closed subject is left',
    );
    const lines = await archived();
    assert.deepEqual(
      lines.map((l) => [l.event.subject, l.event.id, l.content_hash]).sort(),
      before
        .filter((e) => gone.has(e.id))
        .map((e) => [e.subject, e.id, e.content_hash])
        .sort(),
      'the files hold exactly the events that left, with their content hashes',
    );
    assert.deepEqual(await usageOf(db), usage, 'usage is derived data: it stays (live and settled together)');
    const settled = await db.pool.query(
      `select tableoid::regclass::text as month_table, subject, key, lower(during)::text as from, upper(during)::text as to
         from metering.settled_usage order by subject, lower(during)`,
    );
    assert.deepEqual(
      settled.rows.map((r) => [r.month_table, r.subject]),
      SETTLED_USAGE,
      'what came from archived events is settled, in the table of the month it ended in',
    );
    assert.equal(r.settled, settled.rows.length);
    const live = await db.pool.query(
      `select u.subject from metering.usage_intervals u join metering.archived_subjects a on a.subject = u.subject
        where a.closed or lower(u.during) < a.frozen_before`,
    );
    assert.deepEqual(live.rows, [], 'the live table keeps only what can still change');
    const claims = await db.pool.query(`select id from metering.intake_claims where id = any($1::text[])`, [[...gone]]);
    assert.deepEqual(claims.rows, [], 'the intake forgets its claims of archived keys (the stored probe answers them)');
    const { rows } = await db.pool.query(`select name, state, events, subjects from metering.archive_files order by name`);
    assert.deepEqual(rows, [
      { name: 'metering-events-2026-09-0001.ndjson.gz', state: 'done', events: 1, subjects: 1 },
      { name: 'metering-events-2026-10-0001.ndjson.gz', state: 'done', events: 7, subjects: 4 },
    ]);
  });

  test('an open subject goes on from its kept event: a transfer and a plan change after the archive derive what they derive without it; a late event before the kept one is refused', async () => {
    const later = [
      event('evt-l1', 'app-registry', 'app.owner_changed', 'app-2', 3, '2026-11-20T00:00:00Z', { app_id: 'app-2', account_id: 'acct-3' }),
      event('evt-l2', 'addon-service', 'addon.plan_changed', 'addon-pg1', 3, '2026-11-21T00:00:00Z', {
        app_id: 'app-1',
        plan: 'standard-2',
      }),
    ];
    const applied = await applyBoth(later);
    assert.equal(applied.applied, 2);
    assert.deepEqual(
      await usageOf(db),
      await usageOf(reference),
      'intervals, ownership and gaps equal those of a database that archived nothing',
    );
    const late = JSON.parse(eventOf('evt-0006'));
    Object.assign(late, { id: 'evt-too-late' });
    const r = await apply([JSON.stringify(late)]);
    assert.equal(r.rejected.length, 1);
    assert.match(r.rejected[0]!.reasons[0]!.message, /addon-pg1 has its events up to sequence 1 archived/);
    // Another event numbered as the kept one (2) but timed before it would be derived over
    // settled usage (the earlier copy of a repeated sequence counts): refused, naming time.
    const usage = await usageOf(db);
    const copy = JSON.parse(eventOf('evt-0007'));
    Object.assign(copy, { id: 'evt-kept-copy', time: '2026-10-15T00:00:00Z' });
    const refused = await apply([JSON.stringify(copy)]);
    assert.deepEqual(
      refused.rejected.map((x) => [x.reasons[0]!.code, x.reasons[0]!.field]),
      [['store_refused', 'time']],
    );
    assert.match(refused.rejected[0]!.reasons[0]!.message, /addon-pg1 has its usage before 2026-10-20T00:00:00\.000Z archived and settled/);
    assert.deepEqual(await usageOf(db), usage);
  });

  test('an archived event re-sent is a duplicate; its id with other content is rejected as reused', async () => {
    const resent = await apply(['evt-0003', 'evt-0004', 'evt-0013'].map(eventOf));
    assert.equal(resent.applied, 0);
    assert.equal(resent.duplicates, 3);
    assert.deepEqual(resent.rejected, []);
    const other = JSON.parse(eventOf('evt-0004'));
    other.time = '2026-10-12T00:00:00Z';
    const reused = await apply([JSON.stringify(other)]);
    assert.equal(reused.applied, 0);
    assert.deepEqual(
      reused.rejected.map((r) => r.reasons.map((x) => x.code)),
      [['id_reused']],
    );
  });

  test('a new event after an archived subject’s last is refused, naming the subject; the usage stays', async () => {
    const usage = await usageOf(db);
    const late = JSON.parse(eventOf('evt-0004'));
    Object.assign(late, { id: 'evt-after-archive', sequence: 2 });
    const r = await apply([JSON.stringify(late)]);
    assert.equal(r.applied, 0);
    assert.equal(r.rejected.length, 1);
    assert.equal(r.rejected[0]!.reasons[0]!.code, 'store_refused');
    assert.match(r.rejected[0]!.reasons[0]!.message, /subject dyno-d1 is archived/);
    assert.deepEqual(await usageOf(db), usage);
  });

  test('a run killed after recording its file and before its events left is redone: the events are archived once', async () => {
    const started = (id: string, subject: string, sequence: number, type: string, time: string) =>
      event(
        id,
        'dyno-manager',
        type,
        subject,
        sequence,
        time,
        type === 'dyno.started' ? { app_id: 'app-1', name: 'web.2', size: 'basic' } : { app_id: 'app-1' },
      );
    await applyBoth([
      started('evt-k1', 'dyno-k', 1, 'dyno.started', '2026-11-02T00:00:00Z'),
      started('evt-k2', 'dyno-k', 2, 'dyno.stopped', '2026-11-03T00:00:00Z'),
    ]);
    // What a kill leaves: the file recorded `writing`, a partial file under its name.
    const name = 'metering-events-2026-11-0001.ndjson.gz';
    await db.pool.query(`insert into metering.archive_files (name, state, month, dir) values ($1, 'writing', '2026-11', $2)`, [name, dir]);
    await writeFile(join(dir, `${name}.part`), 'partial');
    const progress: string[] = [];
    const r = await archiveEvents(db.pool, { before: cutAfterNow(), dir, progress: (l) => void progress.push(l) });
    assert.equal(r.redone, 1);
    // The killed run's file written again, and (the earlier tests' later events) app-2's transfer and addon-pg1's plan change now archived too.
    assert.deepEqual(r.files, ['metering-events-2026-10-0002.ndjson.gz', name]);
    assert.match(progress.join('\n'), /removed metering-events-2026-11-0001/);
    assert.deepEqual((await readdir(dir)).sort(), [
      'metering-events-2026-09-0001.ndjson.gz',
      'metering-events-2026-10-0001.ndjson.gz',
      'metering-events-2026-10-0002.ndjson.gz',
      name,
    ]);
    const ids = (await archived()).map((l) => l.event.id);
    assert.equal(new Set(ids).size, ids.length, 'no event is in two files');
    assert.deepEqual(ids.filter((id) => id.startsWith('evt-k')).sort(), ['evt-k1', 'evt-k2']);
    const again = await archiveEvents(db.pool, { before: cutAfterNow(), dir });
    assert.deepEqual(
      again,
      { files: [], events: 0, subjects: 0, redone: 0, months: [], settled: 0, usageMonths: [] },
      'a second run finds nothing more',
    );
  });

  test('nothing newer than the cut is archived', async () => {
    await applyBoth([
      event('evt-n1', 'addon-service', 'addon.provisioned', 'addon-new', 1, '2026-11-20T00:00:00Z', {
        app_id: 'app-1',
        service: 'papertrail',
        plan: 'choklad',
      }),
      event('evt-n2', 'addon-service', 'addon.deprovisioned', 'addon-new', 2, '2026-11-21T00:00:00Z', { app_id: 'app-1' }),
    ]);
    const r = await archiveEvents(db.pool, { before: new Date('2026-11-21T00:00:00Z'), dir });
    assert.equal(r.events, 0, 'its last event is not before the cut');
    const { rows } = await db.pool.query(`select count(*)::int as n from metering.events where subject = 'addon-new'`);
    assert.equal(rows[0].n, 2);
  });

  test('after checkpoints moved again, later events still derive what a database that archived nothing derives', async () => {
    const next = [
      event('evt-m1', 'app-registry', 'app.owner_changed', 'app-2', 4, '2026-11-25T00:00:00Z', { app_id: 'app-2', account_id: 'acct-1' }),
      event('evt-m2', 'addon-service', 'addon.deprovisioned', 'addon-pg1', 4, '2026-11-26T00:00:00Z', { app_id: 'app-1' }),
    ];
    assert.equal((await applyBoth(next)).applied, 2);
    assert.deepEqual(await usageOf(db), await usageOf(reference));
    // addon-pg1 is closed now: a later archive takes the rest of it, and its usage still stays.
    const r = await archiveEvents(db.pool, { before: cutAfterNow(), dir });
    assert.ok(r.subjects >= 1);
    const { rows } = await db.pool.query(`select closed from metering.archived_subjects where subject = 'addon-pg1'`);
    assert.deepEqual(rows, [{ closed: true }]);
    assert.deepEqual(await usageOf(db), await usageOf(reference));
  });
});

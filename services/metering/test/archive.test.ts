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
import { addCounters, applyBatch, type BatchResult } from '../src/consumer/apply-batch.ts';
import { readBySource } from '../src/consumer/message-counts.ts';
import { judge } from '../src/domain/judge.ts';
import { exampleLines, meteringDatabase, usageOf } from './harness.ts';

const NOW = Date.parse('2026-12-01T00:00:00Z');
const CLOSED = ['addon-log1', 'dyno-d1', 'dyno-r1'];

let db: TestDatabase;
let dir: string;

async function apply(raws: string[]): Promise<BatchResult> {
  const client = await db.pool.connect();
  try {
    await client.query('begin');
    const judged = judge(
      raws.map((raw) => ({ bytes: Buffer.from(raw), receivedAtMs: NOW })),
      NOW,
    );
    const result = await applyBatch(client, judged);
    await addCounters(client, { log: 'test-log', topic: 'billing', partition: 0 }, readBySource(judged), result);
    await client.query('commit');
    return result;
  } finally {
    client.release();
  }
}

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
      'select subject, id, content_hash from metering.events order by subject, id',
    )
  ).rows;
const cutAfterNow = () => new Date(Date.now() + 60_000);
const october = () => exampleLines('october.ndjson');
const eventOf = (id: string) => october().find((l) => JSON.parse(l).id === id)!;

describe('archive of old events (real PostgreSQL)', () => {
  before(async () => {
    db = await meteringDatabase();
    dir = await mkdtemp(join(tmpdir(), 'vault-archive-'));
    await apply(october());
  });
  after(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  test("a closed subject's events leave the database for a gzip NDJSON file whole; open subjects stay; usage does not change", async () => {
    const usage = await usageOf(db);
    const before = await stored();
    const r = await archiveEvents(db.pool, { before: cutAfterNow(), dir });
    assert.deepEqual(r.files, ['metering-events-2026-10-0001.ndjson.gz']);
    assert.equal(r.subjects, 3);
    assert.equal(r.events, 6);
    const after = await stored();
    assert.deepEqual(
      after.map((e) => e.subject).filter((s) => CLOSED.includes(s)),
      [],
      'no event of a closed subject is left',
    );
    assert.deepEqual(
      after,
      before.filter((e) => !CLOSED.includes(e.subject)),
      'the open subjects keep every event',
    );
    const lines = await archived();
    assert.deepEqual(
      lines.map((l) => [l.event.subject, l.event.id, l.content_hash]),
      before
        .filter((e) => CLOSED.includes(e.subject))
        .map((e) => [e.subject, e.id, e.content_hash])
        .sort(),
      'the file holds exactly the events that left, with their content hashes',
    );
    assert.deepEqual(await usageOf(db), usage, 'usage is derived data: it stays');
    const { rows } = await db.pool.query(`select name, state, events, subjects from metering.archive_files`);
    assert.deepEqual(rows, [{ name: 'metering-events-2026-10-0001.ndjson.gz', state: 'done', events: 6, subjects: 3 }]);
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
      JSON.stringify({
        specversion: '1.0',
        id,
        source: 'dyno-manager',
        type,
        time,
        subject,
        sequence,
        data: type === 'dyno.started' ? { app_id: 'app-1', name: 'web.2', size: 'basic' } : { app_id: 'app-1' },
      });
    await apply([
      started('evt-k1', 'dyno-k', 1, 'dyno.started', '2026-11-02T00:00:00Z'),
      started('evt-k2', 'dyno-k', 2, 'dyno.stopped', '2026-11-03T00:00:00Z'),
    ]);
    // What a kill leaves: the file recorded `writing`, a partial file under its name.
    const name = 'metering-events-2026-11-0001.ndjson.gz';
    await db.pool.query(`insert into metering.archive_files (name, state, month) values ($1, 'writing', '2026-11')`, [name]);
    await writeFile(join(dir, `${name}.part`), 'partial');
    const progress: string[] = [];
    const r = await archiveEvents(db.pool, { before: cutAfterNow(), dir, progress: (l) => progress.push(l) });
    assert.equal(r.redone, 1);
    assert.deepEqual(r.files, [name]);
    assert.match(progress.join('\n'), /removed metering-events-2026-11-0001/);
    assert.deepEqual((await readdir(dir)).sort(), ['metering-events-2026-10-0001.ndjson.gz', name]);
    const ids = (await archived()).map((l) => l.event.id);
    assert.equal(new Set(ids).size, ids.length, 'no event is in two files');
    assert.deepEqual(ids.filter((id) => id.startsWith('evt-k')).sort(), ['evt-k1', 'evt-k2']);
    const again = await archiveEvents(db.pool, { before: cutAfterNow(), dir });
    assert.deepEqual(again, { files: [], events: 0, subjects: 0, redone: 0 }, 'a second run finds nothing more');
  });

  test('nothing newer than the cut is archived', async () => {
    await apply([
      JSON.stringify({
        specversion: '1.0',
        id: 'evt-n1',
        source: 'addon-service',
        type: 'addon.provisioned',
        time: '2026-11-20T00:00:00Z',
        subject: 'addon-new',
        sequence: 1,
        data: { app_id: 'app-1', service: 'papertrail', plan: 'choklad' },
      }),
      JSON.stringify({
        specversion: '1.0',
        id: 'evt-n2',
        source: 'addon-service',
        type: 'addon.deprovisioned',
        time: '2026-11-21T00:00:00Z',
        subject: 'addon-new',
        sequence: 2,
        data: { app_id: 'app-1' },
      }),
    ]);
    const r = await archiveEvents(db.pool, { before: new Date('2026-11-21T00:00:00Z'), dir });
    assert.equal(r.events, 0, 'its last event is not before the cut');
    const { rows } = await db.pool.query(`select count(*)::int as n from metering.events where subject = 'addon-new'`);
    assert.equal(rows[0].n, 2);
  });
});

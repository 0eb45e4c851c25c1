// Issue 19's archive at its edges, each on databases of its own: an add-on with an
// event after its deprovisioning, deprovisioned twice across the cut, a subject kept
// from an event microseconds after its last archived one, paging, and a subject that
// changes after the run listed it, and a second run while one is under way. Real PostgreSQL and the real archive.
import assert from 'node:assert/strict';
import { link, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { eventually, type TestDatabase } from '@vault/testkit';
import { ARCHIVE_LOCK, archiveEvents } from '../src/archive/archive-events.ts';
import type { BatchResult } from '../src/consumer/apply-batch.ts';
import { countingRows, cutAfterNow, event, NOW } from './archive-fixture.ts';
import { applyRaw, meteringDatabase, usageOf } from './harness.ts';

const applyOn = (on: TestDatabase, raws: string[]): Promise<BatchResult> => applyRaw(on, raws, NOW);

/** A database and an archive directory of the test's own, both gone after `work`. */
async function onFreshArchive(name: string, work: (db: TestDatabase, dir: string) => Promise<void>): Promise<void> {
  const db = await meteringDatabase();
  const dir = await mkdtemp(join(tmpdir(), `vault-archive-${name}-`));
  try {
    await work(db, dir);
  } finally {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** An add-on provisioned and deprovisioned in August 2026: a closed subject every run archives. */
const closedAddon = (on: TestDatabase, subject: string, idPrefix: string, app: string) =>
  applyOn(on, [
    event(`${idPrefix}1`, 'addon-service', 'addon.provisioned', subject, 1, '2026-08-01T00:00:00Z', {
      app_id: app,
      service: 'heroku-redis',
      plan: 'mini',
    }),
    event(`${idPrefix}2`, 'addon-service', 'addon.deprovisioned', subject, 2, '2026-08-10T00:00:00Z', { app_id: app }),
  ]);

describe('archive of old events at its edges (real PostgreSQL)', () => {
  test('an add-on with an event after its deprovisioning is never archived (in part or whole): that event keeps opening no usage', async () => {
    await onFreshArchive('ended', async (fresh, dirFresh) => {
      const gone = (seq: number, type: string, time: string, data: Record<string, string>) =>
        event(`g${seq}`, 'addon-service', type, 'addon-ended', seq, time, { app_id: 'app-e', ...data });
      await applyOn(fresh, [
        gone(1, 'addon.provisioned', '2026-08-01T00:00:00Z', { service: 'heroku-redis', plan: 'mini' }),
        gone(2, 'addon.deprovisioned', '2026-08-10T00:00:00Z', {}),
        gone(3, 'addon.plan_changed', '2026-08-20T00:00:00Z', { plan: 'premium-0' }),
      ]);
      const r = await archiveEvents(fresh.pool, { before: cutAfterNow(), dir: dirFresh });
      assert.equal(r.subjects, 0);
      await applyOn(fresh, [gone(4, 'addon.plan_changed', '2026-09-01T00:00:00Z', { plan: 'premium-1' })]);
      const usage = await usageOf(fresh);
      assert.deepEqual(
        usage.intervals.filter((i) => i.subject === 'addon-ended').map((i) => [i.product, i.from, i.to]),
        [['addon:heroku-redis:mini', '2026-08-01 00:00:00+00', '2026-08-10 00:00:00+00']],
      );
    });
  });

  test('an add-on deprovisioned twice, the second arriving after the cut, is not archived in part: no usage opens between its deprovisionings', async () => {
    const fresh = await meteringDatabase();
    const never = await meteringDatabase();
    const dirFresh = await mkdtemp(join(tmpdir(), 'vault-archive-twice-'));
    try {
      const twice = (seq: number, type: string, time: string, data: Record<string, string>) =>
        event(`t${seq}`, 'addon-service', type, 'addon-twice', seq, time, { app_id: 'app-t', ...data });
      const both = async (raws: string[]) => {
        await applyOn(never, raws);
        await applyOn(fresh, raws);
      };
      await both([
        twice(1, 'addon.provisioned', '2026-08-01T00:00:00Z', { service: 'heroku-redis', plan: 'mini' }),
        twice(2, 'addon.deprovisioned', '2026-08-10T00:00:00Z', {}),
        twice(3, 'addon.plan_changed', '2026-08-20T00:00:00Z', { plan: 'premium-0' }),
      ]);
      const cut = new Date();
      await new Promise((r) => setTimeout(r, 20));
      // Timed before the cut, arrived after it: the last (and a terminal) event, not the last before the cut.
      await both([twice(4, 'addon.deprovisioned', '2026-08-25T00:00:00Z', {})]);
      const r = await archiveEvents(fresh.pool, { before: cut, dir: dirFresh });
      assert.equal(r.subjects, 0, 'its first deprovisioning is not its last event');
      await both([twice(5, 'addon.plan_changed', '2026-09-01T00:00:00Z', { plan: 'premium-1' })]);
      const usage = await usageOf(fresh);
      assert.deepEqual(
        usage.intervals.filter((i) => i.subject === 'addon-twice').map((i) => [i.product, i.from, i.to]),
        [['addon:heroku-redis:mini', '2026-08-01 00:00:00+00', '2026-08-10 00:00:00+00']],
      );
      assert.deepEqual(usage, await usageOf(never));
    } finally {
      await fresh.drop();
      await never.drop();
      await rm(dirFresh, { recursive: true, force: true });
    }
  });

  test('an open subject kept from an event microseconds after its last archived one keeps the span between them', async () => {
    const fresh = await meteringDatabase();
    const never = await meteringDatabase();
    const dirFresh = await mkdtemp(join(tmpdir(), 'vault-archive-micro-'));
    try {
      const owner = (seq: number, time: string, account: string) =>
        event(`u${seq}`, 'app-registry', 'app.owner_changed', 'app-micro', seq, time, { app_id: 'app-micro', account_id: account });
      const both = async (raws: string[]) => {
        await applyOn(never, raws);
        await applyOn(fresh, raws);
      };
      // 300 µs apart within one millisecond: a JS Date holds neither.
      await both([owner(1, '2026-10-01T00:00:00.000200Z', 'acct-1'), owner(2, '2026-10-01T00:00:00.000500Z', 'acct-2')]);
      const r = await archiveEvents(fresh.pool, { before: cutAfterNow(), dir: dirFresh });
      assert.equal(r.events, 1, 'the first transfer leaves, the second is kept');
      await both([owner(3, '2026-10-05T00:00:00Z', 'acct-3')]);
      const { owners } = await usageOf(fresh);
      assert.deepEqual(
        owners.map((o) => [o.account_id, o.from, o.to]),
        [
          ['acct-1', '2026-10-01 00:00:00.0002+00', '2026-10-01 00:00:00.0005+00'],
          ['acct-2', '2026-10-01 00:00:00.0005+00', '2026-10-05 00:00:00+00'],
          ['acct-3', '2026-10-05 00:00:00+00', null],
        ],
      );
      assert.deepEqual(await usageOf(fresh), await usageOf(never));
    } finally {
      await fresh.drop();
      await never.drop();
      await rm(dirFresh, { recursive: true, force: true });
    }
  });

  test('a run reads no more than a file’s subjects or a page of events per statement, and writes what one file per month would', async () => {
    const paged = await meteringDatabase();
    const whole = await meteringDatabase();
    const dirPaged = await mkdtemp(join(tmpdir(), 'vault-archive-paged-'));
    const dirWhole = await mkdtemp(join(tmpdir(), 'vault-archive-whole-'));
    try {
      const dyno = (subject: string, seq: number, type: string, time: string) =>
        event(
          `${subject}-${seq}`,
          'dyno-manager',
          type,
          subject,
          seq,
          time,
          type === 'dyno.started' ? { app_id: 'app-p', name: 'web.1', size: 'basic' } : { app_id: 'app-p' },
        );
      const raws = [
        // Five closed in September, three in October; one still running (nothing of it goes).
        ...[1, 2, 3, 4, 5].flatMap((d) => [
          dyno(`dyno-s${d}`, 1, 'dyno.started', `2026-09-0${d}T00:00:00Z`),
          dyno(`dyno-s${d}`, 2, 'dyno.stopped', `2026-09-0${d}T12:00:00Z`),
        ]),
        ...[1, 2, 3].flatMap((d) => [
          dyno(`dyno-o${d}`, 1, 'dyno.started', `2026-10-0${d}T00:00:00Z`),
          dyno(`dyno-o${d}`, 2, 'dyno.stopped', `2026-10-0${d}T12:00:00Z`),
        ]),
        dyno('dyno-run', 1, 'dyno.started', '2026-10-01T00:00:00Z'),
        // Seven transfers in October: six leave, more than a page of one subject.
        ...[1, 2, 3, 4, 5, 6, 7].map((d) =>
          event(`app-p-${d}`, 'app-registry', 'app.owner_changed', 'app-p', d, `2026-10-0${d}T00:00:00Z`, {
            app_id: 'app-p',
            account_id: `acct-${d}`,
          }),
        ),
      ];
      await applyOn(paged, raws);
      await applyOn(whole, raws);
      const rowsPerStatement: number[] = [];
      const r = await archiveEvents(countingRows(paged.pool, rowsPerStatement), {
        before: cutAfterNow(),
        dir: dirPaged,
        subjectsPerFile: 2,
        eventsPerPage: 3,
      });
      assert.deepEqual(r.files, [
        'metering-events-2026-09-0001.ndjson.gz',
        'metering-events-2026-09-0002.ndjson.gz',
        'metering-events-2026-09-0003.ndjson.gz',
        'metering-events-2026-10-0001.ndjson.gz',
        'metering-events-2026-10-0002.ndjson.gz',
      ]);
      assert.deepEqual([r.subjects, r.events], [9, 22]);
      assert.ok(Math.max(...rowsPerStatement) <= 3, `a statement returned ${Math.max(...rowsPerStatement)} rows`);
      const one = await archiveEvents(whole.pool, { before: cutAfterNow(), dir: dirWhole });
      assert.deepEqual(one.files, ['metering-events-2026-09-0001.ndjson.gz', 'metering-events-2026-10-0001.ndjson.gz']);
      assert.deepEqual([one.subjects, one.events, one.settled], [r.subjects, r.events, r.settled]);
      // When each arrived differs between the databases; the rest is the same, line for line, in the same order.
      const linesIn = async (d: string) => {
        const out = [];
        for (const file of (await readdir(d)).sort()) {
          for (const line of gunzipSync(await readFile(join(d, file)))
            .toString('utf8')
            .split('\n')
            .filter(Boolean)) {
            const { received_at: _, ...rest } = JSON.parse(line);
            out.push(rest);
          }
        }
        return out;
      };
      assert.deepEqual(await linesIn(dirPaged), await linesIn(dirWhole));
      const left = (on: TestDatabase) =>
        on.pool.query('select subject, sequence::int from metering.events order by 1, 2').then((q) => q.rows);
      assert.deepEqual(await left(paged), await left(whole));
      assert.deepEqual(
        (await left(paged)).map((e) => `${e.subject}:${e.sequence}`),
        ['app-p:7', 'dyno-run:1'],
      );
      assert.deepEqual(await usageOf(paged), await usageOf(whole));
    } finally {
      await paged.drop();
      await whole.drop();
      await rm(dirPaged, { recursive: true, force: true });
      await rm(dirWhole, { recursive: true, force: true });
    }
  });

  test('a subject that changes after the run listed it (an event reusing a sequence) is not archived; its usage goes on', async () => {
    await onFreshArchive('race', async (fresh, dirFresh) => {
      const owner = (id: string, sequence: number, time: string, account: string) =>
        event(id, 'app-registry', 'app.owner_changed', 'b-app', sequence, time, { app_id: 'b-app', account_id: account });
      const dyno = (id: string, sequence: number, type: string, time: string) =>
        event(
          id,
          'dyno-manager',
          type,
          'a-dyno',
          sequence,
          time,
          type === 'dyno.started' ? { app_id: 'b-app', name: 'web.1', size: 'basic' } : { app_id: 'b-app' },
        );
      await applyOn(fresh, [
        dyno('d1', 1, 'dyno.started', '2026-10-01T00:00:00Z'),
        dyno('d2', 2, 'dyno.stopped', '2026-10-02T00:00:00Z'),
        owner('o1', 1, '2026-10-01T00:00:00Z', 'acct-1'),
        owner('o2', 2, '2026-10-05T00:00:00Z', 'acct-2'),
        owner('o3', 3, '2026-10-09T00:00:00Z', 'acct-3'),
      ]);
      const lines: string[] = [];
      const r = await archiveEvents(fresh.pool, {
        before: cutAfterNow(),
        dir: dirFresh,
        subjectsPerFile: 1,
        // After the first file (a-dyno), before b-app's: an event reusing sequence 2 arrives.
        progress: async (line) => {
          lines.push(line);
          if (lines.length === 1) await applyOn(fresh, [owner('o2-again', 2, '2026-10-06T00:00:00Z', 'acct-9')]);
        },
      });
      assert.deepEqual(r.files, ['metering-events-2026-10-0001.ndjson.gz'], 'only a-dyno');
      assert.match(lines.join('\n'), /skipped metering-events-2026-10-0002\.ndjson\.gz: its subjects changed/);
      const { rows } = await fresh.pool.query(`select count(*)::int as n from metering.events where subject = 'b-app'`);
      assert.equal(rows[0].n, 4, 'b-app keeps every event');
      assert.deepEqual(await readdir(dirFresh), ['metering-events-2026-10-0001.ndjson.gz']);
      const next = await applyOn(fresh, [owner('o4', 4, '2026-10-12T00:00:00Z', 'acct-4')]);
      assert.equal(next.applied, 1, 'the next event applies');
    });
  });

  test("a file name another installation's file holds in the same directory is never replaced: the run fails naming it, the events stay", async () => {
    await onFreshArchive('taken', async (fresh, dir) => {
      await closedAddon(fresh, 'addon-taken', 'k', 'app-k');
      // Another database's first August file, in the same ARCHIVE_DIR.
      const theirs = join(dir, 'metering-events-2026-08-0001.ndjson.gz');
      await writeFile(theirs, 'their events');
      await assert.rejects(archiveEvents(fresh.pool, { before: cutAfterNow(), dir }), (err: Error) => {
        assert.match(err.message, /metering-events-2026-08-0001\.ndjson\.gz already exists and was not written by this run/);
        return true;
      });
      assert.equal(await readFile(theirs, 'utf8'), 'their events');
      assert.deepEqual(await readdir(dir), ['metering-events-2026-08-0001.ndjson.gz'], 'no part file left');
      const { rows } = await fresh.pool.query(`select count(*)::int as n from metering.events where subject = 'addon-taken'`);
      assert.equal(rows[0].n, 2);
      // No row of ours names it: the next run does not take that file for one it left unfinished.
      const files = await fresh.pool.query(`select name from metering.archive_files`);
      assert.deepEqual(files.rows, []);
      await archiveEvents(fresh.pool, { before: cutAfterNow(), dir: join(dir, 'own') });
      assert.equal(await readFile(theirs, 'utf8'), 'their events');
    });
  });

  test("a killed run's leftovers are removed by their part: its own file (the part's inode) goes, another installation's under that name stays", async () => {
    await onFreshArchive('parts', async (fresh, dir) => {
      await closedAddon(fresh, 'addon-parts', 'p', 'app-p');
      const row = (name: string, part: string) =>
        fresh.pool.query(`insert into metering.archive_files (name, state, month, dir, part) values ($1, 'writing', '2026-07', $2, $3)`, [
          name,
          dir,
          part,
        ]);
      // Killed after linking its file into place: the part and the name are one file, ours.
      const ours = 'metering-events-2026-07-0001.ndjson.gz';
      await writeFile(join(dir, `${ours}.a.part`), 'ours, half done');
      await link(join(dir, `${ours}.a.part`), join(dir, ours));
      await row(ours, `${ours}.a.part`);
      // Killed while writing its part, the name held by another installation's finished file.
      const theirs = 'metering-events-2026-07-0002.ndjson.gz';
      await writeFile(join(dir, theirs), 'their events');
      await writeFile(join(dir, `${theirs}.b.part`), 'ours, half done');
      await row(theirs, `${theirs}.b.part`);
      const r = await archiveEvents(fresh.pool, { before: cutAfterNow(), dir });
      assert.equal(r.redone, 2);
      assert.deepEqual(r.files, ['metering-events-2026-08-0001.ndjson.gz']);
      assert.deepEqual((await readdir(dir)).sort(), ['metering-events-2026-07-0002.ndjson.gz', 'metering-events-2026-08-0001.ndjson.gz']);
      assert.equal(await readFile(join(dir, theirs), 'utf8'), 'their events');
    });
  });

  test('a second run says once that it waits for the one under way, naming its session, then archives', async () => {
    await onFreshArchive('waits', async (fresh, dir) => {
      await closedAddon(fresh, 'addon-waits', 'w', 'app-w');
      const holder = await fresh.pool.connect();
      try {
        await holder.query(`set application_name = 'vault-archive'`);
        await holder.query('select pg_advisory_lock($1)', [ARCHIVE_LOCK]);
        const pid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
        const lines: string[] = [];
        let done = false;
        const running = archiveEvents(fresh.pool, { before: cutAfterNow(), dir, progress: (l) => void lines.push(l) }).finally(
          () => (done = true),
        );
        await eventually('the wait said', () => lines.some((l) => l.startsWith('waiting for another archive run')));
        assert.equal(done, false, 'it waits for the lock');
        await holder.query('select pg_advisory_unlock($1)', [ARCHIVE_LOCK]);
        const r = await running;
        assert.deepEqual(
          lines.filter((l) => l.startsWith('waiting')),
          [`waiting for another archive run to end (pid ${pid} (vault-archive))`],
        );
        assert.equal(r.subjects, 1, 'then archives');
      } finally {
        holder.release();
      }
    });
  });
});

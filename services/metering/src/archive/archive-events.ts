// `vault archive` (docs/contracts/metering.md, "Archive"): raw events older
// than the cut go to NDJSON gzip files and leave the database — a closed
// subject's all, an open one's all but its last before the cut; their compact
// keys and what is archived of each subject stay (migrations 011-013). One run
// at a time; each file is its own unit: recorded `writing`, written and
// synced, then in one transaction its events deleted (their keys stay in
// event_keys, migration 013) and the file marked `done`. Killed at any
// instant, a run loses and doubles nothing: a `writing` file's events are
// still in the database, and the next run deletes the file and writes them
// again.
import type pg from 'pg';
import { withSessionLock, withTransaction } from '@vault/db';
import { forgetTaken, iso, partName, releasePart, removeUnfinished, writeArchiveFile } from './archive-file.ts';
import { dropArchivedMonths } from './archive-months.ts';
import {
  archiveSettledMonths,
  type HorizonGate,
  type HorizonMove,
  makeSettledMonths,
  moveUsageHorizon,
  type UsageMonthArchived,
} from './archive-usage.ts';

export const ARCHIVE_LOCK = 7_011_001;

export interface ArchiveOptions {
  /** Subjects whose every event happened and arrived before this instant are archived. */
  before: Date;
  /** Where the files go. */
  dir: string;
  /** Subjects per file (default 5,000): a file's subjects are held in memory while written, its events a page at a time. */
  subjectsPerFile?: number;
  /** Events read per statement while a file is written (default 10,000). */
  eventsPerPage?: number;
  /** Progress, one line per file; awaited before the next file. */
  progress?: (line: string) => void | Promise<void>;
  /**
   * Also move the usage horizon towards `before` (YYYY-MM: the months before it
   * ended before the cut), no further than `gate` allows, and archive the
   * settled months before it (archive-usage.ts).
   */
  usage?: { before: string; gate: HorizonGate };
}

export interface ArchiveResult {
  files: string[];
  events: number;
  subjects: number;
  /** Files a killed run left unfinished, removed and written again. */
  redone: number;
  /** Months (YYYY-MM) whose events table was dropped, every event of it archived or moved on. */
  months: string[];
  /** Usage intervals moved to the settled table (migration 016). */
  settled: number;
  /** With `usage`: where the horizon was and is. */
  horizon?: HorizonMove;
  /** The settled months archived and dropped (without `usage`, only those a killed run left detaching or detached). */
  usageMonths: UsageMonthArchived[];
}

/**
 * Per subject with no hole, no gap, no repeated sequence (n = last_seq − base) and
 * nothing after its first terminal event: closed (its last event by sequence
 * ends it, every event before the cut) means all of it goes (`keep_from`
 * null); otherwise everything before its last event before the cut goes
 * (`keep_from`: that event's sequence, kept so derivation starts again from
 * it) when every such event is before the cut and before the kept one, and
 * none is terminal. By the month of the last event that goes.
 */
const ELIGIBLE = `
  with s as (
    select e.subject collate "C" as subject, max(e.sequence) as last_seq, count(*) as n,
           -- The first: a later terminal event (a second deprovisioning) hides none after the first.
           min(e.sequence) filter (where e.type in ('dyno.stopped', 'addon.deprovisioned')) as terminal_seq,
           bool_and(e.time < $1 and e.received_at < $1) as all_before,
           max(e.sequence) filter (where e.time < $1 and e.received_at < $1) as before_seq
      from metering.events e
     where $2::text[] is null or e.subject = any($2::text[])
     group by e.subject
  ),
  k as (
    select s.subject, coalesce(a.last_sequence, 0) as base,
           case when s.terminal_seq = s.last_seq and s.all_before then null else s.before_seq end as keep_from
      from s left join metering.archived_subjects a on a.subject = s.subject
     where s.n = s.last_seq - coalesce(a.last_sequence, 0)
       and not exists (select 1 from metering.subject_gaps g where g.subject = s.subject)
       -- Events after a terminal one open no usage only while that one is read with them.
       and (s.terminal_seq is null or s.terminal_seq = s.last_seq)
       and ((s.terminal_seq = s.last_seq and s.all_before) or s.before_seq > coalesce(a.last_sequence, 0) + 1)
  )
  select k.subject, k.keep_from, to_char(max(e.time) at time zone 'UTC', 'YYYY-MM') as month
    from k join metering.events e on e.subject = k.subject and (k.keep_from is null or e.sequence < k.keep_from)
   group by k.subject, k.keep_from
  having k.keep_from is null
      or (bool_and(e.time < $1 and e.received_at < $1)
          and max(e.time) < (select x.time from metering.events x where x.subject = k.subject and x.sequence = k.keep_from)
          -- Derivation from the kept events must still see every terminal one.
          and not bool_or(e.type in ('dyno.stopped', 'addon.deprovisioned')))`;

/** The events of a file's subjects that go: $1 the subjects, $2 their keep_from (null: all). */
const LEAVING = `
  unnest($1::text[], $2::int[]) c(subject, keep_from)
  join metering.events e on e.subject = c.subject and (c.keep_from is null or e.sequence < c.keep_from)`;

/**
 * A page of a file's lines (the event as stored, when it arrived, and its
 * content hash): of LEAVING ($1, $2), the first $5 after ($3 subject, $4
 * sequence), unique for an eligible subject (a copy arriving meanwhile fails
 * the file's count). Its subjects are walked in order, each by its index up
 * to a page, and the sort stops once a page is found: no page reads the
 * file's every event.
 */
const LINES = `
  select json_build_object(
           'event', json_build_object('specversion', '1.0', 'id', e.id, 'source', e.source, 'type', e.type,
                                      'subject', e.subject, 'sequence', e.sequence, 'time', ${iso('e.time')}, 'data', e.data),
           'received_at', ${iso('e.received_at')}, 'content_hash', encode(e.content_hash, 'hex'))::text as line,
         e.subject, e.sequence::text as sequence
    from (select c.subject collate "C" as subject, c.keep_from
            from unnest($1::text[], $2::int[]) c(subject, keep_from)
           where c.subject collate "C" >= $3
           order by 1) c
    cross join lateral (
      select e.*, k.content_hash
        from metering.events e
        join metering.event_keys k on k.source = e.source and k.id = e.id
       where e.subject = c.subject and (c.keep_from is null or e.sequence < c.keep_from)
         and (e.subject, e.sequence) > ($3, $4::bigint)
       order by e.sequence
       limit $5
    ) e
   order by c.subject, e.sequence
   limit $5`;

export async function archiveEvents(pool: pg.Pool, opts: ArchiveOptions): Promise<ArchiveResult> {
  const say = async (line: string) => {
    await opts.progress?.(line);
  };
  const perFile = opts.subjectsPerFile ?? 5_000;
  const perPage = opts.eventsPerPage ?? 10_000;
  // A second run (an overlapping cron job) said nothing until the first ended, and looked hung.
  const onWait = (holder: string) => void say(`waiting for another archive run to end (${holder})`);
  return withSessionLock(
    pool,
    ARCHIVE_LOCK,
    async () => {
      const result: ArchiveResult = { files: [], events: 0, subjects: 0, redone: 0, months: [], settled: 0, usageMonths: [] };
      // Parts a killed run left beside files already done: only its own, by their names.
      const { rows: released } = await pool.query<{ name: string; dir: string; part: string }>(
        `select name, dir, part from metering.archive_files where state = 'done' and part is not null`,
      );
      for (const t of released) {
        await releasePart(t);
        await pool.query(`update metering.archive_files set part = null where name = $1`, [t.name]);
      }
      const { rows: unfinished } = await pool.query<{ name: string; dir: string; part: string | null }>(
        `select name, dir, part from metering.archive_files where state = 'writing'`,
      );
      for (const { name, dir, part } of unfinished) {
        // Where that run wrote, whatever this run's directory.
        await removeUnfinished({ dir, name, part });
        await pool.query(`delete from metering.archive_files where name = $1 and state = 'writing'`, [name]);
        await say(`removed ${name}: a run was killed before its events left the database; they are archived again`);
        result.redone++;
      }
      // A month's table a killed run left detaching or detached goes before anything settles into that
      // month again, whatever this run's flags: an events-only run settles too.
      result.usageMonths.push(...(await archiveSettledMonths(pool, opts.dir, say, undefined, !opts.usage)));
      const eligible = await listEligible(pool, opts.before);
      try {
        for (let chunk = await eligible.next(perFile); chunk !== null; chunk = await eligible.next(perFile)) {
          const name = await nextFileName(pool, chunk.month);
          const target = { dir: opts.dir, name, part: partName(name) };
          await pool.query(`insert into metering.archive_files (name, state, month, dir, part) values ($1, 'writing', $2, $3, $4)`, [
            name,
            chunk.month,
            opts.dir,
            target.part,
          ]);
          const written = await writeArchiveFile(target, fileLines(pool, chunk, perPage)).catch((err) => forgetTaken(pool, name, err));
          await makeSettledMonths(pool, chunk.subjects, say);
          const finished = await finishFile(pool, name, chunk, written, opts.before);
          if (!finished) {
            // A subject changed between the read and the lock: its events stay; the next run sees it again.
            await removeUnfinished(target);
            await pool.query(`delete from metering.archive_files where name = $1`, [name]);
            await say(`skipped ${name}: its subjects changed while it was written; run again`);
            continue;
          }
          await releasePart(target);
          await pool.query(`update metering.archive_files set part = null where name = $1`, [name]);
          result.files.push(name);
          result.events += written;
          result.subjects += chunk.subjects.length;
          result.settled += finished.settled;
          await say(
            `archived ${written} events of ${chunk.subjects.length} subjects (${chunk.month}) to ${name}; settled ${finished.settled} usage intervals`,
          );
        }
      } finally {
        eligible.close();
      }
      result.months = (await dropArchivedMonths(pool, opts.before, say)).map((m) => m.month);
      if (opts.usage) {
        result.horizon = await moveUsageHorizon(pool, opts.usage.before, opts.usage.gate);
        await say(horizonLine(result.horizon, opts.usage.before));
        result.usageMonths.push(...(await archiveSettledMonths(pool, opts.dir, say)));
      }
      return result;
    },
    // No bound: an overlapping run rightly waits for a long archive to end, then runs (a no-op or the rest).
    { onWait, waitMs: Number.POSITIVE_INFINITY },
  );
}

/** What the horizon did, for the progress lines. */
export function horizonLine(move: HorizonMove, target: string): string {
  const stopped = move.stoppedAt ? `; ${move.stoppedAt.period} is not final: ${move.stoppedAt.reason}` : '';
  if (move.to === null) return `no usage horizon yet (asked for ${target})${stopped}`;
  if (move.to === move.from) return `the usage horizon stays at ${move.to}${stopped}`;
  return `usage before ${move.to} is final: the usage horizon moved ${move.from === null ? 'to' : `from ${move.from} to`} ${move.to}${stopped}`;
}

/** A file's lines, a page of `perPage` events at a time in the order of their index: memory holds a page. */
async function* fileLines(pool: pg.Pool, chunk: Chunk, perPage: number): AsyncIterable<string> {
  // Below every key: '' sorts first in "C", and sequences start at 1.
  let after: { subject: string; sequence: string } = { subject: '', sequence: '0' };
  for (;;) {
    const { rows } = await pool.query<{ line: string; subject: string; sequence: string }>(LINES, [
      chunk.subjects,
      chunk.keepFrom,
      after.subject,
      after.sequence,
      perPage,
    ]);
    for (const r of rows) yield r.line;
    if (rows.length < perPage) return;
    after = rows.at(-1)!;
  }
}

interface Chunk {
  month: string;
  /** In "C" order. */
  subjects: string[];
  /** Per subject: the sequence of the event it keeps (the rest after it stays too); null: all goes. */
  keepFrom: (number | null)[];
}

interface EligibleList {
  /** The next file's subjects: up to `perFile` after the last file's, all of one month, oldest month first; null when none is left. */
  next(perFile: number): Promise<Chunk | null>;
  close(): void;
}

/**
 * The eligible subjects, listed once by the run into a table of a session of
 * its own (a run's subjects can be tens of millions: they stay in the
 * database), then read a file at a time by its index. Killed, the session
 * ends and its table with it.
 */
async function listEligible(pool: pg.Pool, before: Date): Promise<EligibleList> {
  const session = await pool.connect();
  try {
    await session.query(`create temporary table archive_eligible as ${ELIGIBLE}`, [before, null]);
    await session.query('create index on archive_eligible (month, subject)');
  } catch (err) {
    session.release(true);
    throw err;
  }
  let after = { month: '', subject: '' };
  return {
    async next(perFile) {
      const { rows } = await session.query<{ subject: string; keep_from: number | null; month: string }>(
        `with page as (select subject, keep_from, month from archive_eligible
                        where (month, subject) > ($1, $2) order by month, subject limit $3)
         select subject, keep_from, month from page where month = (select min(month) from page) order by subject`,
        [after.month, after.subject, perFile],
      );
      if (rows.length === 0) return null;
      after = { month: rows[0]!.month, subject: rows.at(-1)!.subject };
      return { month: after.month, subjects: rows.map((r) => r.subject), keepFrom: rows.map((r) => r.keep_from) };
    },
    // Not returned to the pool: the session ends, and its table with it.
    close: () => session.release(true),
  };
}

async function nextFileName(pool: pg.Pool, month: string): Promise<string> {
  const { rows } = await pool.query<{ n: string }>(
    `select count(*)::text as n from metering.archive_files where month = $1 and kind = 'events'`,
    [month],
  );
  return `metering-events-${month}-${String(Number(rows[0]!.n) + 1).padStart(4, '0')}.ndjson.gz`;
}

/**
 * In one transaction, under the consumer's subject locks: if the subjects
 * still hold exactly the events written, record what is archived of each
 * subject, settle the usage that came from them, delete the events and mark
 * the file done. Null when they changed.
 */
async function finishFile(pool: pg.Pool, name: string, chunk: Chunk, written: number, before: Date): Promise<{ settled: number } | null> {
  const params = [chunk.subjects, chunk.keepFrom];
  return withTransaction(
    pool,
    async (client) => {
      await client.query('select pg_advisory_xact_lock(hashtextextended(s, 7001)) from unnest($1::text[]) s', [
        [...chunk.subjects].sort(byCodeUnit),
      ]);
      // Under the consumer's locks, each subject must still be eligible as when the run listed it
      // (an event arriving since could have opened a gap, or followed a terminal one).
      const again = await client.query<{ subject: string; keep_from: number | null }>(ELIGIBLE, [before, chunk.subjects]);
      const keep = new Map(again.rows.map((r) => [r.subject, r.keep_from]));
      if (chunk.subjects.some((subject, i) => !keep.has(subject) || keep.get(subject) !== chunk.keepFrom[i])) return null;
      const { rows } = await client.query<{ n: string }>(`select count(*)::text as n from ${LEAVING}`, params);
      if (Number(rows[0]!.n) !== written) return null;
      // Their keys stay in event_keys. The intake's claims of them go: the stored probe answers those keys first.
      await client.query(
        `delete from metering.intake_claims c using (select e.source, e.id from ${LEAVING}) k where c.source = k.source and c.id = k.id`,
        params,
      );
      await client.query(
        `insert into metering.archived_subjects (subject, last_sequence, archive_file, closed, frozen_before, service)
         select c.subject, max(e.sequence), $3, c.keep_from is null,
                (select k.time from metering.events k where k.subject = c.subject and k.sequence = c.keep_from),
                min(e.data->>'service') filter (where e.sequence = 1)
           from ${LEAVING}
          group by c.subject, c.keep_from
         on conflict (subject) do update
           set last_sequence = excluded.last_sequence, archive_file = excluded.archive_file,
               closed = excluded.closed, frozen_before = excluded.frozen_before,
               service = coalesce(metering.archived_subjects.service, excluded.service)`,
        [...params, name],
      );
      // Usage from the events that go can no longer change: it leaves the live tables (migration 016).
      const settled = await client.query<{ n: string }>('select metering.settle_usage($1::text[])::text as n', [chunk.subjects]);
      await client.query(
        `delete from metering.events e using unnest($1::text[], $2::int[]) c(subject, keep_from)
                           where e.subject = c.subject and (c.keep_from is null or e.sequence < c.keep_from)`,
        params,
      );
      await client.query(
        `update metering.archive_files set state = 'done', events = $2, subjects = $3, finished_at = now() where name = $1`,
        [name, written, chunk.subjects.length],
      );
      return { settled: Number(settled.rows[0]!.n) };
    },
    { name: 'archive_file' },
  );
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export type { HorizonGate, HorizonMove, OpenMonth, UsageMonthArchived } from './archive-usage.ts';

// `vault archive` (docs/contracts/metering.md, "Archive"): the raw events of
// closed subjects older than the cut go to NDJSON gzip files and leave the
// database; their compact keys and the subjects stay (migration 011). One run
// at a time; each file is its own unit: recorded `writing`, written and
// synced, then in one transaction its events deleted, their keys kept and the
// file marked `done`. Killed at any instant, a run loses and doubles nothing:
// a `writing` file's events are still in the database, and the next run
// deletes the file and writes them again.
import type pg from 'pg';
import { withSessionLock, withTransaction } from '@vault/db';
import { removeArchiveFile, writeArchiveFile } from './archive-file.ts';

const ARCHIVE_LOCK = 7_011_001;

export interface ArchiveOptions {
  /** Subjects whose every event happened and arrived before this instant are archived. */
  before: Date;
  /** Where the files go. */
  dir: string;
  /** Subjects per file (default 5,000): a file's events are held in memory while written. */
  subjectsPerFile?: number;
  /** Progress, one line per file. */
  progress?: (line: string) => void;
}

export interface ArchiveResult {
  files: string[];
  events: number;
  subjects: number;
  /** Files a killed run left unfinished, removed and written again. */
  redone: number;
}

/**
 * Closed subjects (their last event by sequence ends them: a dyno's stop, an
 * add-on's deprovisioning) with no hole, not already archived, every event
 * before the cut; by the month of their last event.
 */
const ELIGIBLE = `
  create temporary table archive_eligible on commit drop as
  select e.subject collate "C" as subject, to_char(max(e.time) at time zone 'UTC', 'YYYY-MM') as month
    from metering.events e
   group by e.subject
  having max(e.received_at) < $1 and max(e.time) < $1
     and max(e.sequence) filter (where e.type in ('dyno.stopped', 'addon.deprovisioned')) = max(e.sequence)
     and count(*) = max(e.sequence)
     and not exists (select 1 from metering.subject_gaps g where g.subject = e.subject)`;

/** A file's lines: the event as stored, when it arrived, and its content hash. */
const LINES = `
  select json_build_object(
           'event', json_build_object('specversion', '1.0', 'id', e.id, 'source', e.source, 'type', e.type,
                                      'subject', e.subject, 'sequence', e.sequence, 'time', ${iso('e.time')}, 'data', e.data),
           'received_at', ${iso('e.received_at')}, 'content_hash', e.content_hash)::text as line
    from metering.events e
   where e.subject = any($1::text[])
   order by e.subject, e.sequence, e.received_at`;

function iso(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

export async function archiveEvents(pool: pg.Pool, opts: ArchiveOptions): Promise<ArchiveResult> {
  const say = opts.progress ?? (() => {});
  const perFile = opts.subjectsPerFile ?? 5_000;
  return withSessionLock(pool, ARCHIVE_LOCK, async () => {
    const result: ArchiveResult = { files: [], events: 0, subjects: 0, redone: 0 };
    const { rows: unfinished } = await pool.query<{ name: string }>(`select name from metering.archive_files where state = 'writing'`);
    for (const { name } of unfinished) {
      await removeArchiveFile(opts.dir, name);
      await pool.query(`delete from metering.archive_files where name = $1 and state = 'writing'`, [name]);
      say(`removed ${name}: a run was killed before its events left the database; they are archived again`);
      result.redone++;
    }
    for (const chunk of await eligibleChunks(pool, opts.before, perFile)) {
      const name = await nextFileName(pool, chunk.month);
      await pool.query(`insert into metering.archive_files (name, state, month) values ($1, 'writing', $2)`, [name, chunk.month]);
      const { rows } = await pool.query<{ line: string }>(LINES, [chunk.subjects]);
      const written = await writeArchiveFile(opts.dir, name, lines(rows));
      const done = await finishFile(pool, name, chunk.subjects, written);
      if (!done) {
        // A subject changed between the read and the lock: its events stay; the next run sees it again.
        await removeArchiveFile(opts.dir, name);
        await pool.query(`delete from metering.archive_files where name = $1`, [name]);
        say(`skipped ${name}: its subjects changed while it was written; run again`);
        continue;
      }
      result.files.push(name);
      result.events += written;
      result.subjects += chunk.subjects.length;
      say(`archived ${written} events of ${chunk.subjects.length} subjects (${chunk.month}) to ${name}`);
    }
    return result;
  });
}

async function* lines(rows: { line: string }[]): AsyncIterable<string> {
  for (const r of rows) yield r.line;
}

/** The eligible subjects in files of `perFile`, one month per file, oldest month first. */
async function eligibleChunks(pool: pg.Pool, before: Date, perFile: number): Promise<{ month: string; subjects: string[] }[]> {
  // Subjects are short ids; the list of a run is kept in memory, its events never all at once.
  const rows = await withTransaction(pool, async (client) => {
    await client.query(ELIGIBLE, [before]);
    const found = await client.query<{ subject: string; month: string }>(
      'select subject, month from archive_eligible order by month, subject',
    );
    return found.rows;
  });
  const chunks: { month: string; subjects: string[] }[] = [];
  for (const r of rows) {
    const last = chunks.at(-1);
    if (last && last.month === r.month && last.subjects.length < perFile) last.subjects.push(r.subject);
    else chunks.push({ month: r.month, subjects: [r.subject] });
  }
  return chunks;
}

async function nextFileName(pool: pg.Pool, month: string): Promise<string> {
  const { rows } = await pool.query<{ n: string }>(`select count(*)::text as n from metering.archive_files where month = $1`, [month]);
  return `metering-events-${month}-${String(Number(rows[0]!.n) + 1).padStart(4, '0')}.ndjson.gz`;
}

/**
 * In one transaction, under the consumer's subject locks: if the subjects
 * still hold exactly the events written, keep their keys, mark the subjects
 * archived, delete the events and mark the file done. False when they changed.
 */
async function finishFile(pool: pg.Pool, name: string, subjects: string[], written: number): Promise<boolean> {
  return withTransaction(
    pool,
    async (client) => {
      await client.query('select pg_advisory_xact_lock(hashtextextended(s, 7001)) from unnest($1::text[]) s', [
        [...subjects].sort(byCodeUnit),
      ]);
      const { rows } = await client.query<{ n: string }>(
        'select count(*)::text as n from metering.events where subject = any($1::text[])',
        [subjects],
      );
      if (Number(rows[0]!.n) !== written) return false;
      await client.query(
        `insert into metering.archived_events (source, id, content_hash)
         select source, id, decode(content_hash, 'hex') from metering.events where subject = any($1::text[])`,
        [subjects],
      );
      await client.query(
        `insert into metering.archived_subjects (subject, last_sequence, archive_file)
         select subject, max(sequence), $2 from metering.events where subject = any($1::text[]) group by subject`,
        [subjects, name],
      );
      await client.query('delete from metering.events where subject = any($1::text[])', [subjects]);
      await client.query(
        `update metering.archive_files set state = 'done', events = $2, subjects = $3, finished_at = now() where name = $1`,
        [name, written, subjects.length],
      );
      return true;
    },
    { name: 'archive_file' },
  );
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

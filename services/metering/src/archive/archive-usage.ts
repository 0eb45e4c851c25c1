// The usage horizon and the settled months before it (docs/contracts/metering.md,
// "Usage horizon"). `vault archive` moves the horizon up to the retention's cut,
// no further than the first month invoicing does not hold final (the gate it is
// given: metering never reads invoicing's tables). Then each settled month's
// table before the horizon leaves the database: its intervals to an NDJSON gzip
// file (recorded `writing`, written and synced), then in one transaction deleted
// and the file marked `done`; the emptied table is detached and dropped. A month
// holding usage learned so late that invoicing may not have carried it yet stays
// until the horizon moved past the months it may change (learnedTooLate).
// Crash-only: a `writing` file is removed and written again by the next run
// (archiveEvents starts with that), a month whose rows are gone but whose table
// stays is detached and dropped, and a month that settles again (an archived
// subject's old interval met later) gets a file of its own.
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import { HORIZON_LOCK } from '../consumer/usage-horizon.ts';
import { forgetTaken, iso, partName, releasePart, removeUnfinished, writeArchiveFile } from './archive-file.ts';
import { monthTables } from './month-tables.ts';

/** The first month (YYYY-MM) before `before`, and from `from` on, that is not final for billing, and why; null: all are. */
export type HorizonGate = (client: pg.PoolClient, before: string, from: string | null) => Promise<OpenMonth | null>;

export interface OpenMonth {
  period: string;
  reason: string;
}

export interface HorizonMove {
  /** The horizon's month (YYYY-MM) before, null when there was none. */
  from: string | null;
  /** After. */
  to: string | null;
  /** What kept it from the target, when something did. */
  stoppedAt?: OpenMonth;
}

/**
 * Moves the horizon forward to `target` (YYYY-MM), or to the first month the
 * gate says is open when that comes first; never back. In one transaction
 * holding the horizon's lock, which every consumer batch holds shared: the
 * gate sees every batch that was judged against the old horizon, and every
 * batch after it sees the new one.
 */
export async function moveUsageHorizon(pool: pg.Pool, target: string, gate: HorizonGate): Promise<HorizonMove> {
  return withTransaction(
    pool,
    async (client) => {
      await client.query('select pg_advisory_xact_lock($1)', [HORIZON_LOCK]);
      // A statement of its own: its snapshot is taken once the batches before the lock committed.
      const { rows } = await client.query<{ period: string }>('select period from metering.billable_horizon');
      const from = rows[0]?.period ?? null;
      if (from !== null && from >= target) return { from, to: from };
      const open = await gate(client, target, from);
      const stopped = open !== null && open.period < target ? { stoppedAt: open } : {};
      const to = open !== null && open.period < target ? open.period : target;
      // '0000-01': open from the very beginning (a hole before any reliable event, a change of unknown start).
      if (to === '0000-01' || (from !== null && to <= from)) return { from, to: from, ...stopped };
      await client.query(
        `insert into metering.usage_horizon (month) values (to_date($1, 'YYYY-MM'))
         on conflict (singleton) do update set month = excluded.month, moved_at = now()`,
        [to],
      );
      return { from, to, ...stopped };
    },
    { name: 'usage_horizon' },
  );
}

/**
 * The settled months a file's subjects may settle into, made before the
 * file's transaction (migration 019): making one waits for every reader of
 * settled_usage, which here holds nothing else. Its closed intervals' months
 * (a superset: those after a kept event stay live; a month made early stays
 * empty until used). A long reader (a finalize) is waited out, said once.
 */
export async function makeSettledMonths(pool: pg.Pool, subjects: string[], say: (line: string) => Promise<void>): Promise<void> {
  for (let waited = false; ; waited = true) {
    try {
      await pool.query(
        `select metering.ensure_settled_month(m)
           from (select distinct metering.settled_month(during) as m from metering.usage_intervals
                  where subject = any($1::text[]) and not upper_inf(during)) months`,
        [subjects],
      );
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '55P03') throw err;
      if (!waited) await say("waiting for a long reader of metering.settled_usage (a finalize?) to add a settled month's table");
      // Asked for 200 ms at a time: readers queue behind the request only that long, then run a while.
      await sleep(1_000 + Math.random() * 1_000);
    }
  }
}

export interface UsageMonthArchived {
  /** YYYY-MM */
  month: string;
  /** The file its intervals went to; null when the table held none (a killed run had moved them). */
  file: string | null;
  intervals: number;
}

class ChangedMeanwhile extends Error {
  constructor(readonly found: number) {
    super('changed meanwhile');
  }
}

/** Intervals read per statement while a month's file is written. */
const PAGE = 10_000;

/**
 * Every settled month's table before the horizon, and any a killed run left
 * detaching or detached, leaves: its intervals to a file, the table dropped.
 * `leftoversOnly`: only those a killed run left (an events-only run, which
 * leaves the usage alone but must not meet a detached month when settling).
 */
export async function archiveSettledMonths(
  pool: pg.Pool,
  dir: string,
  say: (line: string) => Promise<void>,
  pageSize = PAGE,
  leftoversOnly = false,
): Promise<UsageMonthArchived[]> {
  const { rows: h } = await pool.query<{ period: string }>('select period from metering.billable_horizon');
  const horizon = h[0]?.period ?? null;
  const out: UsageMonthArchived[] = [];
  for (const t of await monthTables(pool, 'settled_usage')) {
    if (t.state === 'attached' && (leftoversOnly || horizon === null || t.month >= horizon)) continue;
    if (t.state === 'attached' && (await learnedTooLate(pool, t.table))) {
      await say(`kept the settled usage of ${t.month}: it holds usage learned late whose change invoicing may not have carried yet`);
      continue;
    }
    let archived: { file: string; intervals: number } | null = null;
    if (t.state === 'attached') {
      archived = await archiveMonthRows(pool, dir, t.table, t.month, pageSize);
      // Outside a transaction: readers of the other months go on meanwhile.
      await pool.query(`alter table metering.settled_usage detach partition metering.${t.table} concurrently`);
    } else if (t.state === 'detaching') {
      await pool.query(`alter table metering.settled_usage detach partition metering.${t.table} finalize`);
    }
    await mustBeEmpty(pool, t.table);
    await pool.query(`drop table metering.${t.table}`);
    const month = { month: t.month, file: archived?.file ?? null, intervals: archived?.intervals ?? 0 };
    out.push(month);
    await say(
      archived === null
        ? `dropped the settled usage table of ${t.month} (its intervals already archived)`
        : `archived ${archived.intervals} settled usage intervals (${t.month}) to ${archived.file}; dropped its table`,
    );
  }
  return out;
}

/**
 * How long after an invoice's finalization invoicing still takes usage learned
 * as seen by it: its LATE_MARGIN_INTERVAL (services/invoicing/src/billing/sql.ts;
 * its test holds this no shorter).
 */
export const LATE_MARGIN = '1 hour';

/**
 * Whether a settled month before the horizon holds an interval learned so late
 * that it may still change a month from the horizon on, not carried yet: the
 * archive settles an interval into the month it ends, which may be before the
 * horizon (a stop re-submitted timed at the horizon ends its dyno in the month
 * before), while every later month invoiced it running. Invoicing takes a row
 * as late for a month only when it was learned after the month's invoice was
 * finalized less LATE_MARGIN, and no month is finalized before it ends: a row
 * learned before the horizon's month ended, less LATE_MARGIN, changes no month
 * from the horizon on, while one learned later may. Such a month stays until
 * the horizon moved past every month that row may change (the gate saw it:
 * invoicing reads every settled month for an app a month charged), and the
 * first usage run after that archives it.
 */
async function learnedTooLate(pool: pg.Pool, table: string): Promise<boolean> {
  const { rows } = await pool.query<{ late: boolean }>(
    `select exists (select 1 from metering.${table} u, metering.usage_horizon h
                     where u.learned_at > ((h.month + interval '1 month') at time zone 'UTC') - $1::interval) as late`,
    [LATE_MARGIN],
  );
  return rows[0]!.late;
}

/** Writes a month's intervals to a file and deletes them with the file marked done; null when it has none. */
async function archiveMonthRows(
  pool: pg.Pool,
  dir: string,
  table: string,
  month: string,
  pageSize: number,
): Promise<{ file: string; intervals: number } | null> {
  const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from metering.${table}`);
  if (rows[0]!.n === 0) return null;
  const { rows: files } = await pool.query<{ n: number }>(
    `select count(*)::int as n from metering.archive_files where month = $1 and kind = 'usage'`,
    [month],
  );
  const name = `metering-usage-${month}-${String(files[0]!.n + 1).padStart(4, '0')}.ndjson.gz`;
  const target = { dir, name, part: partName(name) };
  await pool.query(`insert into metering.archive_files (name, state, month, dir, kind, part) values ($1, 'writing', $2, $3, 'usage', $4)`, [
    name,
    month,
    dir,
    target.part,
  ]);
  const written = await writeArchiveFile(target, lines(pool, table, pageSize)).catch((err) => forgetTaken(pool, name, err));
  try {
    await withTransaction(
      pool,
      async (client) => {
        // What leaves is archived, not changed: nothing for invoicing's queue (migration 017), which reads no month before the horizon.
        await client.query(`select set_config('metering.settling', 'on', true)`);
        const { rowCount } = await client.query(`delete from metering.${table}`);
        // Only a writer bypassing the archive's lock could change a settled month meanwhile: then all of it stays.
        if (rowCount !== written) throw new ChangedMeanwhile(rowCount ?? 0);
        await client.query(`update metering.archive_files set state = 'done', intervals = $2, finished_at = now() where name = $1`, [
          name,
          written,
        ]);
      },
      { name: 'archive_usage_month' },
    );
  } catch (err) {
    if (!(err instanceof ChangedMeanwhile)) throw err;
    await removeUnfinished(target);
    await pool.query(`delete from metering.archive_files where name = $1`, [name]);
    throw new Error(
      `archive: the settled usage of ${month} changed while its file was written (${written} intervals written, ${err.found} found); nothing of it archived, run again`,
    );
  }
  await releasePart(target);
  await pool.query(`update metering.archive_files set part = null where name = $1`, [name]);
  return { file: name, intervals: written };
}

/**
 * A month's intervals as lines, a page at a time in the order of its unique
 * index: memory holds a page, whatever the month's size. Starting below every
 * key ('' sorts first in "C", and no interval starts at -infinity).
 */
async function* lines(pool: pg.Pool, table: string, pageSize: number): AsyncIterable<string> {
  let after: { subject: string; start: string } = { subject: '', start: '-infinity' };
  for (;;) {
    const { rows } = await pool.query<{ line: string; subject: string; start: string }>(
      `select json_build_object('subject', subject, 'kind', kind, 'app_id', app_id, 'key', key, 'product', product,
                                'start', ${iso('lower(during)')}, 'end', ${iso('upper(during)')},
                                'learned_at', ${iso('learned_at')})::text as line,
              subject, lower(during)::text as start
         from metering.${table}
        where (subject, lower(during)) > ($1::text collate "C", $2::timestamptz)
        order by subject, lower(during)
        limit ${pageSize}`,
      [after.subject, after.start],
    );
    for (const r of rows) yield r.line;
    if (rows.length < pageSize) return;
    after = rows.at(-1)!;
  }
}

/** A month's table still holding intervals is never detached or dropped. */
async function mustBeEmpty(pool: pg.Pool, table: string): Promise<void> {
  const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from metering.${table}`);
  if (rows[0]!.n !== 0) throw new Error(`archive: ${table} still holds ${rows[0]!.n} settled intervals; not dropped`);
}

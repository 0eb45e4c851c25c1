// After `vault archive` has written its files (docs/contracts/metering.md,
// "Events by month"): a sealed month that ended before the cut leaves as a
// table. What its files did not take — an open subject's kept event, a
// subject with a hole or a gap, one that changed while its file was written —
// moves to the current month first (it stays stored, only elsewhere), then
// the emptied partition is detached and dropped. Crash-only: a month killed
// anywhere is found again by the next run in one of three states — still
// attached (moved again: nothing left to move), detaching (finished), or
// detached and not dropped (dropped) — the last two whatever the run's cut.
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import { ensureEventMonths, sealEventMonths } from '../consumer/event-months.ts';
import { type MonthTable, monthTables } from './month-tables.ts';

export interface MonthDropped {
  /** YYYY-MM */
  month: string;
  /** Events that stayed and moved to the current month. */
  moved: number;
}

/**
 * The subjects whose first sealed month was this one or earlier: their
 * events are now all later (archived, or moved to the current month). Each
 * gets the first month it still has in a sealed month, or loses its row when
 * it has none (all its events in unsealed months, or none left): batches read
 * it from there on, not from a month that is gone.
 */
const RAISE_BOUNDS = `
  with firsts as (
    select m.subject, (select min(e.stored_month) from metering.events e where e.subject = m.subject) as first
      from metering.subject_months m
     where m.first_month <= to_date($1, 'YYYY-MM')
  ),
  gone as (
    delete from metering.subject_months m using firsts f
     where m.subject = f.subject
       and (f.first is null or f.first >= (select b.month from metering.events_sealed_before b))
  )
  update metering.subject_months m set first_month = f.first
    from firsts f
   where m.subject = f.subject and f.first < (select b.month from metering.events_sealed_before b)`;

/** A month's table still holding an event (only a writer bypassing triggers could leave one) is never detached or dropped. */
async function mustBeEmpty(db: pg.Pool | pg.PoolClient, table: string): Promise<void> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from metering.${table}`);
  if (rows[0]!.n !== 0) throw new Error(`archive: ${table} still holds ${rows[0]!.n} events after its month moved; not dropped`);
}

/** Months (YYYY-MM) sealed and ended by `before`, with their partition's state; oldest first. */
async function droppable(pool: pg.Pool, before: Date): Promise<MonthTable[]> {
  const rows = await monthTables(pool, 'events');
  const { rows: sealed } = await pool.query<{ month: string }>(
    `select to_char(month, 'YYYY-MM') as month from metering.events_sealed_before`,
  );
  const firstOpen = sealed[0]!.month;
  const out = [];
  for (const r of rows) {
    const end = new Date(Date.UTC(Number(r.month.slice(0, 4)), Number(r.month.slice(5, 7)), 1));
    // A table detaching or detached is left only by a killed run: it goes whatever the cut.
    if (r.state !== 'attached' || (r.month < firstOpen && end.getTime() <= before.getTime())) out.push(r);
  }
  return out;
}

/** Moves what stays of each droppable month to the current month, then detaches and drops its partition. */
export async function dropArchivedMonths(pool: pg.Pool, before: Date, say: (line: string) => Promise<void>): Promise<MonthDropped[]> {
  const dropped: MonthDropped[] = [];
  // Where what stays moves to.
  await ensureEventMonths(pool);
  // Only a sealed month goes, and metering seals them once an hour: not waited for here.
  await sealEventMonths(pool);
  for (const { table, month, state } of await droppable(pool, before)) {
    let moved = 0;
    if (state === 'attached') {
      moved = await withTransaction(
        pool,
        async (client) => {
          // Sealing waits meanwhile: what is recorded of the months below is rewritten here.
          await client.query('select month from metering.events_sealed_before for update');
          const { rowCount } = await client.query(
            `update metering.events set stored_month = date_trunc('month', now() at time zone 'UTC')::date
              where stored_month = to_date($1, 'YYYY-MM')`,
            [month],
          );
          await client.query(RAISE_BOUNDS, [month]);
          await mustBeEmpty(client, table);
          return rowCount ?? 0;
        },
        { name: 'archive_month' },
      );
      // Outside a transaction: readers and writers of other months go on meanwhile.
      await pool.query(`alter table metering.events detach partition metering.${table} concurrently`);
    } else if (state === 'detaching') {
      await pool.query(`alter table metering.events detach partition metering.${table} finalize`);
    }
    await mustBeEmpty(pool, table);
    await pool.query(`drop table metering.${table}`);
    dropped.push({ month, moved });
    await say(`dropped the events table of ${month}${moved > 0 ? ` (${moved} events that stay moved to the current month)` : ''}`);
  }
  return dropped;
}

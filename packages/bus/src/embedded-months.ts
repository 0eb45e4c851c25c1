import type pg from 'pg';
import { withTransaction } from '@vault/db';
import { trimPointSql } from './embedded-trim.ts';

// The embedded log's monthly partitions (migration 005; docs/contracts/bus.md,
// "Monthly partitions"): the coming months are created ahead, rows the DEFAULT
// partition took for want of their month are moved into it, and a month every
// group has read past is dropped whole. Each step is one transaction: a kill
// between steps leaves a state the next round finishes.

/** One UTC month of the log and its partition. */
export interface LogMonth {
  /** `YYYY-MM`. */
  key: string;
  /** `messages_YYYY_MM`, in schema `bus`. */
  table: string;
  /** Its bounds, as timestamptz literals: [from, to). */
  from: string;
  to: string;
}

const KEY = /^(\d{4})-(\d{2})$/;
const TABLE = /^messages_(\d{4})_(\d{2})$/;

/** The month `YYYY-MM`; anything else is an error naming it. */
export function logMonth(key: string): LogMonth {
  const m = KEY.exec(key);
  const year = Number(m?.[1]);
  const month = Number(m?.[2]);
  if (!m || month < 1 || month > 12) throw new Error(`log month must be YYYY-MM, got ${JSON.stringify(key)}`);
  const next = month === 12 ? `${String(year + 1).padStart(4, '0')}-01` : `${m[1]}-${String(month + 1).padStart(2, '0')}`;
  return { key, table: `messages_${m[1]}_${m[2]}`, from: `${key}-01 00:00:00+00`, to: `${next}-01 00:00:00+00` };
}

/** How long a step waits for its table locks before giving up until the next round: readers and publishers queue behind it meanwhile. */
const LOCK_TIMEOUT = '2s';
/** Serialises the maintenance of every process on the database. */
const LOCK = 'bus.messages months';

/** What one round did. */
export interface MonthsMaintained {
  created: string[];
  /** Rows moved out of the DEFAULT partition into a month created for them. */
  moved: number;
  dropped: string[];
}

/** This month, the next, and every month the DEFAULT partition holds rows of (`held`): each needs its partition. */
const MONTHS_NEEDED = `
  select to_char(now() at time zone 'UTC', 'YYYY-MM') as key, true as current, false as held
  union
  select to_char(date_trunc('month', now() at time zone 'UTC') + interval '1 month', 'YYYY-MM'), false, false
  union
  select distinct to_char(published_at at time zone 'UTC', 'YYYY-MM'), false, true from bus.messages_default`;

const PARTITIONS = `
  select c.relname as table from pg_inherits i join pg_class c on c.oid = i.inhrelid
   where i.inhparent = 'bus.messages'::regclass`;

const IS_PARTITION = `select 1 from pg_inherits where inhparent = 'bus.messages'::regclass and inhrelid = to_regclass($1)`;

/**
 * $1 from, $2 to → a (topic, partition) that keeps month table `t` (attached
 * or just detached): one of its messages is at or above the trim point, or
 * (offsets and months are not in step at a month's turn: a publish's
 * published_at is its transaction's start) a message of the pair held in
 * another month is below the month's last, so dropping it would leave a hole.
 * The row trim removes the latter, and the month goes in a later round. The
 * pairs are walked through the primary key (a loose index scan), so the cost
 * is index probes per pair, not a scan of the month. Exported for the tests' EXPLAIN.
 */
export function monthNeeded(t: string): string {
  return `
  with recursive pairs as (
    (select topic, partition from bus.${t} order by topic, partition limit 1)
    union all
    select n.topic, n.partition from pairs p
     cross join lateral (select m.topic, m.partition from bus.${t} m
                          where (m.topic, m.partition) > (p.topic, p.partition)
                          order by m.topic, m.partition limit 1) n
  )
  select p.topic, p.partition from pairs p
   cross join lateral (select max(m."offset") as last from bus.${t} m where m.topic = p.topic and m.partition = p.partition) x
   where not coalesce(
           x.last < ${trimPointSql('p.topic', 'p.partition')}
           -- The first held in other months: min() reads one entry of each one's primary key.
           and not coalesce((select min(o."offset") from bus.messages o
                              where o.topic = p.topic and o.partition = p.partition
                                and (o.published_at < $1::timestamptz or o.published_at >= $2::timestamptz)) < x.last, false),
           false)
   limit 1`;
}

class StillNeeded extends Error {}

/**
 * Runs `step` in a transaction holding the months' lock (waiting at most
 * LOCK_TIMEOUT for table locks), with whether `month` is a partition now.
 */
function monthStep<T>(pool: pg.Pool, month: LogMonth, step: (c: pg.PoolClient, attached: boolean) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (c) => {
    await c.query(`set local lock_timeout = '${LOCK_TIMEOUT}'`);
    await c.query('select pg_advisory_xact_lock(hashtext($1))', [LOCK]);
    const attached = Boolean((await c.query(IS_PARTITION, [`bus.${month.table}`])).rowCount);
    return step(c, attached);
  });
}

/** A month made under the light lock found rows of it in DEFAULT (published since the round looked): made again under the heavy one. */
class RowsToMove extends Error {}

/**
 * Creates `month`'s partition unless it is one, moving into it the rows the
 * DEFAULT partition holds of it. With rows to move (`moving`) bus.messages
 * itself is locked first, so readers wait there and plan with the month: one
 * that got past it would plan without the month, wait at DEFAULT for the
 * attach, then find the month's rows gone from DEFAULT, a hole in its batch.
 * A month made ahead, with nothing to move, keeps the lighter locks.
 */
async function ensureMonth(pool: pg.Pool, month: LogMonth, moving: boolean): Promise<{ created: boolean; moved: number }> {
  try {
    return await monthStep(pool, month, async (c, attached) => {
      if (attached) return { created: false, moved: 0 };
      // `only`: what readers and publishers lock first; taken before DEFAULT, in their order.
      if (moving) await c.query('lock table only bus.messages in access exclusive mode');
      // No row of the month reaches DEFAULT until the month is attached.
      await c.query('lock table bus.messages_default in exclusive mode');
      // Created apart and attached: attaching takes a lighter lock on bus.messages than `partition of`.
      await c.query(`create table bus.${month.table} (like bus.messages including defaults)`);
      const { rowCount } = await c.query(
        `with moved as (
           delete from bus.messages_default where published_at >= $1::timestamptz and published_at < $2::timestamptz
           returning topic, partition, "offset", key, value, published_at)
         insert into bus.${month.table} (topic, partition, "offset", key, value, published_at) select * from moved`,
        [month.from, month.to],
      );
      if (rowCount && !moving) throw new RowsToMove();
      await c.query(`alter table bus.messages attach partition bus.${month.table} for values from ('${month.from}') to ('${month.to}')`);
      return { created: true, moved: rowCount ?? 0 };
    });
  } catch (err) {
    if (err instanceof RowsToMove) return ensureMonth(pool, month, true);
    throw err;
  }
}

/**
 * Detaches and drops `month`'s partition if every message in it is below its
 * partition's trim point. Checked once without a lock, then again after the
 * detach, which waits for any publish writing into the month and bars the next.
 */
async function dropMonthIfRead(pool: pg.Pool, month: LogMonth): Promise<boolean> {
  const needed = monthNeeded(month.table);
  if ((await pool.query(needed, [month.from, month.to])).rowCount) return false;
  try {
    return await monthStep(pool, month, async (c, attached) => {
      if (!attached) return false;
      await c.query(`alter table bus.messages detach partition bus.${month.table}`);
      if ((await c.query(needed, [month.from, month.to])).rowCount) throw new StillNeeded();
      await c.query(`drop table bus.${month.table}`);
      return true;
    });
  } catch (err) {
    if (err instanceof StillNeeded) return false;
    throw err;
  }
}

/**
 * One round: this month's and the next's partitions (and those of months the
 * DEFAULT partition holds), then the months before this one that every group
 * has read past dropped, oldest first. Logs `bus.months` with
 * `count#bus.partitions_created` and `count#bus.partitions_dropped`.
 */
export async function maintainMonths(
  pool: pg.Pool,
  log?: (event: string, fields?: Record<string, string | number>) => void,
): Promise<MonthsMaintained> {
  const result: MonthsMaintained = { created: [], moved: 0, dropped: [] };
  const { rows: needed } = await pool.query<{ key: string; current: boolean; held: boolean }>(MONTHS_NEEDED);
  const current = needed.find((r) => r.current)?.key;
  if (!current) throw new Error('bus.months: the database gave no current month');
  const held = new Set(needed.filter((r) => r.held).map((r) => r.key));
  for (const key of [...new Set(needed.map((r) => r.key))].sort()) {
    const month = logMonth(key);
    const { created, moved } = await ensureMonth(pool, month, held.has(key));
    if (created) result.created.push(month.table);
    result.moved += moved;
  }
  const { rows: tables } = await pool.query<{ table: string }>(PARTITIONS);
  const past = tables
    .map((r) => TABLE.exec(r.table))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => logMonth(`${m[1]}-${m[2]}`))
    .filter((m) => m.key < current)
    .sort((a, b) => (a.key < b.key ? -1 : 1));
  for (const month of past) {
    if (await dropMonthIfRead(pool, month)) result.dropped.push(month.table);
  }
  log?.('bus.months', {
    created: result.created.join(',') || '-',
    dropped: result.dropped.join(',') || '-',
    'count#bus.partitions_created': result.created.length,
    'count#bus.partitions_dropped': result.dropped.length,
    'count#bus.messages_moved': result.moved,
  });
  return result;
}

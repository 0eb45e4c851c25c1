// A month's accounts in account order, a chunk at a time, for finalize: the
// month's usage (aggregates plus live), the holds and the late-usage candidates, each read through
// a server-side cursor of one read-only snapshot and merged by account. Memory
// holds a fetch of each cursor and one chunk, whatever the month's size.
import { setImmediate } from 'node:timers/promises';
import type pg from 'pg';
import type { Hold } from '@vault/contracts';
import { compareAccounts } from '../domain/account-order.ts';
import type { Period } from '../domain/period.ts';
import type { LineUsage } from '../domain/usage.ts';
import { GAPS, gapHold, UNOWNED_MONTH, unownedHold } from './holds.ts';
import { LATE_CANDIDATES, type LateCandidate } from './late-usage.ts';
import { LATE_MARGIN_INTERVAL, ms, QUEUED_APPS, reachesFrom } from './sql.ts';

/** What the month holds for one account that has no invoice for it yet. */
export interface AccountRows {
  account: string;
  usage: LineUsage[];
  holds: Hold[];
  late: LateCandidate[];
}

export interface MonthStream {
  /** When the snapshot was taken (the reading transaction's start): the invoices' finalized_at. */
  readonly snapshotAt: Date;
  /** Invoices of the month already finalized in the snapshot: this run numbers from the next. */
  readonly alreadyFinalized: number;
  chunks(accounts: number): AsyncGenerator<AccountRows[]>;
  close(): Promise<void>;
}

// Every cursor leaves out accounts that already have the month's invoice, so a
// rerun (or a run after one that was killed) starts after the last one finalized.
// The period's parameter is null when the snapshot holds no invoice of the month
// (a first run): the condition is then folded away when the cursor is planned,
// sparing a probe of the invoices per row (1.2M for the stored month at 100,000 accounts).
const UNFINALIZED = (alias: string, period = '$4') =>
  `(${period}::text is null or not exists (select 1 from invoicing.invoices i where i.account_id = ${alias}.account_id and i.period = ${period}))`;

const CURSORS = {
  // The month's usage in two parts, shaped as the rating domain's LineUsage (ms as a number: whole
  // milliseconds, exact in a double) and summed per line by account here. Stored: the aggregates'
  // month (usage_months, read in its key's order: accounts in "C" order, as compareAccounts) for
  // apps with nothing queued. $1 the month's start, $2 the period, or null (UNFINALIZED).
  stored: `select m.account_id, m.app_id as "appId", m.kind, m.key, m.product, m.ms::float8 as ms
             from invoicing.usage_months m
            where m.month = $1 and m.app_id not in (${QUEUED_APPS})
              and ${UNFINALIZED('m', '$2')}
            order by m.month, m.account_id`,
  // Live: what the aggregates do not hold — the running intervals of folded apps (usage_running,
  // migration 017: no scan of the month's intervals to find them), and every interval of a queued
  // app — clipped as LINE_USAGE_SQL clips them. $1, $2 the month, $3 the period, or null (UNFINALIZED).
  live: `select o.account_id collate "C" as account_id, u.app_id as "appId", u.kind, u.key, u.product,
                sum(${ms('u.during * o.during * w.r')})::float8 as ms
           from (select tstzrange($1::timestamptz, $2::timestamptz, '[)') as r) w
           cross join (
                 -- A running interval reaches into the month when it starts before the month's end:
                 -- said so, the planner estimates the rows well enough to hash the owners.
                 select r.app_id, r.kind, r.key, r.product, r.during from invoicing.usage_running r
                  where r.app_id not in (${QUEUED_APPS}) and lower(r.during) < $2::timestamptz
                 union all
                 select u.app_id, u.kind, u.key, u.product, u.during
                   from (${QUEUED_APPS}) q
                   join metering.billable_usage u on u.app_id = q.app_id
                  where u.during && tstzrange($1::timestamptz, $2::timestamptz, '[)') and ${reachesFrom('u', '$1::timestamptz')}) u
           join metering.billable_ownership o on o.app_id = u.app_id and o.during && u.during and o.during && w.r
          where ${UNFINALIZED('o', '$3')}
          group by 1, 2, 3, 4, 5
          order by 1`,
  gaps: `select g.account_id collate "C" as account_id, g.app_id, g.subject, g.missing_sequence, g.unreliable_from
           from (${GAPS}) g where ${UNFINALIZED('g')} order by 1`,
  unowned: `select a.account_id collate "C" as account_id, u.app_id, u.unowned_ms
              from (${UNOWNED_MONTH}) u cross join unnest(u.accounts) a(account_id) where ${UNFINALIZED('a', '$3')} order by 1`,
  late: `select c.account_id collate "C" as account_id, c.period, c.app_id
           from (${LATE_CANDIDATES}) c where ${UNFINALIZED('c')} order by 1`,
};

/**
 * Accounts merged (here) or drafted (finalize-chunk.ts) between two turns of
 * the event loop: the work of a chunk blocks it for tens of milliseconds
 * otherwise, and the other chunk's COPY waits for its data.
 */
export const YIELD_EVERY = 100;

/** Rows fetched per round trip. */
const FETCH = 5_000;

// The cursors' sorts (the live usage's, the holds') done in memory rather than
// merged through temporary files; past this they still spill.
const READ_WORK_MEM = '256MB';

/**
 * Opens the month's stream: a repeatable-read, read-only transaction whose
 * snapshot (taken after the caller's finalize lock, so it sees every earlier
 * run's invoices) a second connection shares, so the holds' statements run
 * beside the usage aggregate's sort, on another core, instead of after it.
 */
export async function openMonthStream(pool: pg.Pool, period: Period): Promise<MonthStream> {
  const usageClient = await pool.connect();
  let holdsClient: pg.PoolClient | undefined;
  try {
    await usageClient.query('begin isolation level repeatable read read only');
    await usageClient.query(`set local work_mem = '${READ_WORK_MEM}'`);
    const { rows } = await usageClient.query<{ at: Date; finalized: string; snapshot: string }>(
      `select now() as at, pg_export_snapshot() as snapshot,
              (select count(*) from invoicing.invoices where period = $1) as finalized`,
      [period.key],
    );
    const { at, finalized, snapshot } = rows[0]!;
    holdsClient = await pool.connect();
    await holdsClient.query('begin isolation level repeatable read read only');
    await holdsClient.query(`set transaction snapshot '${snapshot.replace(/'/g, "''")}'`);
    await holdsClient.query(`set local work_mem = '${READ_WORK_MEM}'`);
    // The overlap of ranges is estimated far too low, so the planner sorts the
    // month's usage by app to merge it with the owners; hashing them instead
    // halves the unowned-usage statement (2.97 s → 1.55 s at 100,000 accounts).
    await holdsClient.query('set local enable_mergejoin = off');
    const from = period.start.toJSDate();
    const to = period.end.toJSDate();
    const resumed = Number(finalized) > 0 ? period.key : null;
    await usageClient.query(`declare finalize_stored no scroll cursor for ${CURSORS.stored}`, [from, resumed]);
    await usageClient.query(`declare finalize_live no scroll cursor for ${CURSORS.live}`, [from, to, resumed]);
    await holdsClient.query(`declare finalize_gaps no scroll cursor for ${CURSORS.gaps}`, [from, to, null, resumed]);
    await holdsClient.query(`declare finalize_unowned no scroll cursor for ${CURSORS.unowned}`, [from, to, resumed]);
    await holdsClient.query(`declare finalize_late no scroll cursor for ${CURSORS.late}`, [from, null, LATE_MARGIN_INTERVAL, resumed]);
    return monthStream(usageClient, holdsClient, at, Number(finalized));
  } catch (err) {
    usageClient.release(err as Error);
    holdsClient?.release(err as Error);
    throw err;
  }
}

function monthStream(usageClient: pg.PoolClient, holdsClient: pg.PoolClient, snapshotAt: Date, alreadyFinalized: number): MonthStream {
  const sessions = [new Session(usageClient), new Session(holdsClient)] as const;
  const stored = new Cursor<LineUsage & { account_id: string }>(sessions[0], 'finalize_stored');
  const live = new Cursor<LineUsage & { account_id: string }>(sessions[0], 'finalize_live');
  const gaps = new Cursor<{ account_id: string; app_id: string; subject: string; missing_sequence: string; unreliable_from: Date | null }>(
    sessions[1],
    'finalize_gaps',
  );
  const unowned = new Cursor<{ account_id: string; app_id: string; unowned_ms: string }>(sessions[1], 'finalize_unowned');
  const late = new Cursor<LateCandidate>(sessions[1], 'finalize_late');
  const cursors = [stored, live, gaps, unowned, late];

  async function nextAccount(): Promise<AccountRows | undefined> {
    let account: string | undefined;
    for (const c of cursors) {
      if (!c.ready) await c.refill();
      const head = c.peek();
      if (head && (account === undefined || compareAccounts(head.account_id, account) < 0)) account = head.account_id;
    }
    if (account === undefined) return undefined;
    const lines = sumLines(await stored.take(account), await live.take(account));
    const holds = [...(await gaps.take(account)).map(gapHold), ...(await unowned.take(account)).map(unownedHold)];
    return { account, usage: lines, holds, late: await late.take(account) };
  }

  let closed = false;
  return {
    snapshotAt,
    alreadyFinalized,
    async *chunks(size) {
      // Every cursor's first fetch at once: the usage sort and the holds' statements run side by side.
      await Promise.all(cursors.map((c) => c.refill()));
      let chunk: AccountRows[] = [];
      for (let a = await nextAccount(); a; a = await nextAccount()) {
        // The cursors' rows in hand resolve at once: now and then let the event loop flush the chunks' COPYs.
        if (chunk.length % YIELD_EVERY === YIELD_EVERY - 1) await setImmediate();
        chunk.push(a);
        if (chunk.length >= size) {
          yield chunk;
          chunk = [];
        }
      }
      if (chunk.length > 0) yield chunk;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const session of sessions) {
        // A read-only transaction: ending it any way is fine; a broken connection is not pooled again.
        const failed = await session.query('rollback').then(
          () => undefined,
          (err: Error) => err,
        );
        session.client.release(failed);
      }
    },
  };
}

/**
 * An account's stored and live usage, summed per line; lines without usage
 * left out. The cursors' row objects are the result: a live line adds to its
 * stored one (a dozen lines an account, so a scan beats a keyed map).
 */
function sumLines(stored: LineUsage[], live: LineUsage[]): LineUsage[] {
  const lines = stored;
  for (const l of live) {
    const same = lines.find((x) => x.appId === l.appId && x.kind === l.kind && x.key === l.key && x.product === l.product);
    if (same) same.ms += l.ms;
    else lines.push(l);
  }
  return lines.some((l) => l.ms <= 0) ? lines.filter((l) => l.ms > 0) : lines;
}

/**
 * A server-side cursor sorted by account_id, read `FETCH` rows at a time; the
 * next fetch is asked for as soon as one arrives, so the server computes it
 * while this process works through the rows it has.
 */
class Cursor<R extends { account_id: string }> {
  private rows: R[] = [];
  private at = 0;
  private next: Promise<R[]> | undefined;

  constructor(
    private readonly session: Session,
    private readonly name: string,
  ) {
    this.next = this.fetch();
  }

  private fetch(): Promise<R[]> {
    const rows = this.session.query<R>(`fetch ${FETCH} from ${this.name}`);
    // Awaited by head(); a failure seen first by no one must not count as unhandled.
    rows.catch(() => {});
    return rows;
  }

  /** Whether peek() answers without a fetch: rows in hand, or the cursor has no more. */
  get ready(): boolean {
    return this.at < this.rows.length || !this.next;
  }

  /** The row at the head; undefined once the cursor is done (or, when not ready, until refilled). */
  peek(): R | undefined {
    return this.rows[this.at];
  }

  /** Takes the next fetch in hand (asking for the one after); false when the cursor is done. */
  async refill(): Promise<boolean> {
    if (!this.next) return false;
    this.rows = await this.next;
    this.at = 0;
    this.next = this.rows.length < FETCH ? undefined : this.fetch();
    return this.rows.length > 0;
  }

  /**
   * The rows of `account` at the cursor's head (none when it is at another
   * account). Awaits only when the rows in hand run out: a promise a row
   * allocated more than the rows themselves.
   */
  async take(account: string): Promise<R[]> {
    const out: R[] = [];
    while (this.at < this.rows.length || (await this.refill())) {
      const r = this.rows[this.at]!;
      if (r.account_id !== account) break;
      out.push(r);
      this.at += 1;
    }
    return out;
  }
}

/** A connection whose statements (several cursors' fetches) are sent one after another. */
class Session {
  private last: Promise<unknown> = Promise.resolve();

  constructor(readonly client: pg.PoolClient) {}

  query<R extends pg.QueryResultRow>(text: string): Promise<R[]> {
    const result = this.last.then(() => this.client.query<R>(text)).then((r) => r.rows);
    this.last = result.catch(() => {});
    return result;
  }
}

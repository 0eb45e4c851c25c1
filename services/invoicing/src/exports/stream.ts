import { Readable } from 'node:stream';
import type pg from 'pg';
import type { Decimal } from 'decimal.js';
import type { PriceBook } from '@vault/contracts';
import { DEFAULT_GRACE_HOURS } from '../config.ts';
import { neverFinalized, unfinishedRun } from '../billing/finalize-runs.ts';
import { firstBillableMonth } from '../billing/final-months.ts';
import { dueAt } from '../domain/invoice.ts';
import { Money } from '../domain/money.ts';
import { parsePeriod } from '../domain/period.ts';
import { csvRecord, type FieldKind } from './csv.ts';
import { checkCreditsFinal, quietLedger, releaseLedger, takeCreditsMonth } from './credits-final.ts';
import { anyHeld, describeHeld, heldOfMonth, type HeldCount } from './held.ts';
import { CONTROL_COUNT_COLUMN, CONTROL_LABEL, CURRENCY_COLUMN, EXPORT_TABLES, type ExportKind } from './tables.ts';

export interface ExportSummary {
  kind: ExportKind;
  period: string;
  /** Data rows written (the control row not counted). */
  rows: number;
  /** The control total: the sum of the `total` (invoices) or `amount` (lines) column. */
  total: string;
  /** Every summed column's sum, as written in the control row. */
  sums: Record<string, string>;
  /** The currency of every amount and sum: the rows' (one per database), or ExportOptions.prices' when there are none. */
  currency: string | null;
  /** invoices and lines: the month's holds when the export started (held.ts), when ExportOptions.prices was given. */
  held?: HeldCount;
}

export interface ExportOptions {
  /** Rows per `fetch` from the cursor, and so per chunk: memory is bounded by one batch. */
  batchSize?: number;
  /**
   * A download that stops reading holds a transaction open; after this long
   * idle the server ends it, and the file ends without its control row.
   */
  idleTimeoutMs?: number;
  /**
   * Called once the control row has been taken by the consumer (after the
   * generator's last yield), never for a file abandoned before it.
   */
  onDone?: (summary: ExportSummary) => void;
  /** INVOICE_GRACE_HOURS: a month is not exported before its end plus this (DEFAULT_GRACE_HOURS when unset). */
  graceHours?: number;
  /** The clock the due time is compared with (tests fix it). */
  now?: () => Date;
  /**
   * The price book billed with: the month's held accounts are counted with it
   * (invoices and lines), and its currency names an empty file's control total.
   */
  prices?: PriceBook;
  /** credits.csv: how long to wait for a finalize run or a credit reversal to end (credits-final.ts). */
  ledgerWaitMs?: number;
}

/** INVOICE_GRACE_HOURS's default, for callers that are not given the setting (route tests, the bench). */
export { DEFAULT_GRACE_HOURS } from '../config.ts';

/** What checkMonthComplete compares a month's due time with. */
export interface DueCheck {
  graceHours?: number;
  now?: Date;
}

/**
 * The month is not due: its end plus INVOICE_GRACE_HOURS has not passed, so no
 * finalize has made its invoices yet. A file of it would be a header and a
 * control row of zeros: a month with no invoices, which it is not.
 */
export class MonthNotDueError extends Error {
  /** Found in the export's own snapshot too (the CLI, a race with the clock): still a 409. */
  readonly statusCode = 409;
  constructor(
    readonly period: string,
    readonly dueAt: Date,
    graceHours: number,
  ) {
    super(
      `${period} is not finalized: it is not due until ${dueAt.toISOString()} (its end plus INVOICE_GRACE_HOURS=${graceHours}), ` +
        'so its invoices are not made yet: export it once it has been finalized',
    );
  }

  /** Seconds from `now` to the due time, at least 1 (Retry-After). */
  retryAfterSeconds(now: Date): number {
    return Math.max(1, Math.ceil((this.dueAt.getTime() - now.getTime()) / 1000));
  }
}

/**
 * The month's invoices are not all made: a finalize of it started and has not
 * completed (it is running, or was stopped). A file of part of the month would
 * end with a control row that matches it, and look complete.
 */
export class MonthNotFinalizedError extends Error {
  /** Found in the export's own snapshot, after the route's look: still a 409 (the HTTP error handler reads it). */
  readonly statusCode = 409;
  /** `startedAt` undefined: no run of the month has completed yet, and it has no invoice. */
  constructor(period: string, startedAt: Date | undefined) {
    super(
      startedAt === undefined
        ? `${period} is due but no finalize run has completed for it yet, so its invoices are not made: ` +
            `the schedule finalizes every due month within INVOICE_FINALIZE_EVERY_SECONDS of its due time; export again once it has (or run \`vault finalize --period ${period}\`)`
        : `the finalize of ${period} that started at ${startedAt.toISOString()} has not completed, so its invoices are not all made yet: ` +
            `export again once it has (if none is running, \`vault finalize --period ${period}\` completes it)`,
    );
  }
}

/**
 * credits.csv: throws CreditsNotFinalError until the month is over and its
 * expiries are written (credits-final.ts). When `kind` lists the month's
 * invoices: throws MonthNotDueError while the month is not due (its end plus `graceHours`, as of `now`), and
 * MonthNotFinalizedError while a finalize of it has not completed, or none
 * has (migration 024). A month never finalized is empty only before the first
 * billable month, which metering's views tell: without them (metering not
 * migrated yet) a MeteringNotReadyError, never an empty file.
 */
export async function checkMonthComplete(db: pg.Pool | pg.PoolClient, kind: ExportKind, period: string, due: DueCheck = {}): Promise<void> {
  if (!EXPORT_TABLES[kind].invoicesOfMonth) return checkCreditsFinal(db, period, due.now ?? new Date());
  const graceHours = due.graceHours ?? DEFAULT_GRACE_HOURS;
  const dueTime = dueAt(parsePeriod(period), graceHours).toJSDate();
  if ((due.now ?? new Date()) < dueTime) throw new MonthNotDueError(period, dueTime, graceHours);
  const startedAt = await unfinishedRun(db, period);
  if (startedAt) throw new MonthNotFinalizedError(period, startedAt);
  // A month before the first with billable usage has nothing to finalize, ever: it is empty.
  if (await neverFinalized(db, period)) {
    const first = await firstBillableMonth(db);
    if (first !== undefined && period >= first.key) throw new MonthNotFinalizedError(period, undefined);
  }
}

const DEFAULT_BATCH_SIZE = 2000;
const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * One period's export as CSV text chunks: the header, one chunk per batch of
 * rows, then the control row. It reads through a server-side cursor on one
 * pooled client and fetches the next batch only when the consumer asks for
 * more, so memory stays bounded whatever the period's size. The client goes
 * back to the pool when the export ends, fails, or is abandoned (`return()`,
 * which `Readable.from` calls when its stream is destroyed).
 */
export async function* exportCsv(
  pool: pg.Pool,
  kind: ExportKind,
  period: string,
  opts: ExportOptions = {},
): AsyncGenerator<string, ExportSummary, undefined> {
  const table = EXPORT_TABLES[kind];
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const kinds: FieldKind[] = table.columns.map((c) => c.kind);
  const summed = table.columns.flatMap((c, i) =>
    c.sumDecimals === undefined ? [] : [{ index: i, name: c.name, decimals: c.sumDecimals }],
  );
  const sums: Decimal[] = summed.map(() => new Money(0));
  const currencyIndex = table.columns.findIndex((c) => c.name === CURRENCY_COLUMN);
  let currency: string | null = null;
  let rows = 0;
  const now = opts.now?.() ?? new Date();
  const graceHours = opts.graceHours ?? DEFAULT_GRACE_HOURS;

  // Counted before the snapshot is taken: an account whose hold clears meanwhile is in the file and
  // counted, which says too much, never too little. Only for a due month (the check refuses others).
  let held: HeldCount | undefined;
  if (table.invoicesOfMonth && opts.prices && now >= dueAt(parsePeriod(period), graceHours).toJSDate()) {
    held = await heldOfMonth(pool, opts.prices, period, now);
  }

  const client = await pool.connect();
  // A checked-out client has no error listener: a connection the server ends
  // between two fetches must fail the next fetch, not crash the process.
  const onClientError = () => {};
  client.on('error', onClientError);
  let open = false;
  let ledgerHeld = false;
  let failure: Error | undefined;
  try {
    // credits.csv: no ledger writer running when the snapshot is taken (credits-final.ts).
    if (!table.invoicesOfMonth) {
      await quietLedger(client, period, opts.ledgerWaitMs);
      ledgerHeld = true;
      // Noted taken before the locks go: no writer dates an entry in it after (credits-final.ts).
      await takeCreditsMonth(client, period, now).catch(async (err: unknown) => {
        // Refused (not final yet): let go of the locks, so the connection goes back to the pool.
        await releaseLedger(client);
        ledgerHeld = false;
        throw err;
      });
    }
    // One snapshot for the check below and the rows: repeatable read.
    await client.query('begin isolation level repeatable read read only');
    open = true;
    await client.query(
      `set local idle_in_transaction_session_timeout = ${Math.max(1, Math.round(opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS))}`,
    );
    if (ledgerHeld) {
      // The transaction's first query: its snapshot is taken as it starts, while the lock is still held.
      await releaseLedger(client);
      ledgerHeld = false;
    }
    // Before the first byte, in the snapshot the rows are read from: a run this snapshot sees completed wrote all its invoices.
    await checkMonthComplete(client, kind, period, { graceHours, now });
    await client.query({ text: `declare export_rows no scroll cursor for ${table.sql}`, values: [period] });
    const fetchBatch = () => client.query<string[]>({ text: `fetch ${batchSize} from export_rows`, rowMode: 'array' });
    /** One batch's CSV text; the control figures counted. */
    const take = (batch: string[][]): string => {
      let chunk = '';
      for (const row of batch) {
        for (let s = 0; s < summed.length; s++) {
          const v = row[summed[s]!.index];
          if (v !== null && v !== undefined) sums[s] = sums[s]!.plus(v);
        }
        const c = row[currencyIndex] ?? null;
        // One currency per database (the price book's guard): a sum over two would mean nothing, and the file ends without one.
        if (currency !== null && c !== currency) {
          throw new Error(`${kind}.csv of ${period} has amounts in ${currency} and ${c}: its control total would add them`);
        }
        currency = c;
        chunk += csvRecord(row, kinds);
      }
      rows += batch.length;
      return chunk;
    };
    // The first batch is read (the cursor's query run) before the header is yielded, so before any
    // byte of a download: a failure there is the route's error answer (503 at a limit), never a 200
    // cut short after its header. A later batch failing fails the stream midway (the route cuts it).
    let batch = await fetchBatch();
    let chunk = take(batch.rows);
    yield csvRecord(
      table.columns.map((c) => c.name),
      table.columns.map(() => 'value'),
    );
    while (batch.rows.length > 0) {
      yield chunk;
      if (batch.rows.length < batchSize) break;
      batch = await fetchBatch();
      chunk = take(batch.rows);
    }
    await client.query('commit');
    open = false;

    currency ??= opts.prices?.currency ?? null;
    const control: (string | null)[] = table.columns.map(() => null);
    const controlKinds: FieldKind[] = kinds.map(() => 'value');
    control[0] = CONTROL_LABEL;
    control[CONTROL_COUNT_COLUMN] = String(rows);
    control[currencyIndex] = currency;
    // A month with held accounts is the month so far: said in an empty column, the columns stay.
    const note = anyHeld(held) ? describeHeld(held, period) : undefined;
    if (note !== undefined && table.noteColumn !== undefined) {
      const at = table.columns.findIndex((c) => c.name === table.noteColumn);
      control[at] = note;
      controlKinds[at] = 'text';
    }
    const written: Record<string, string> = {};
    summed.forEach((c, s) => {
      written[c.name] = sums[s]!.toFixed(c.decimals);
      control[c.index] = written[c.name]!;
    });
    const summary: ExportSummary = {
      kind,
      period,
      rows,
      total: written[table.totalColumn]!,
      sums: written,
      currency,
      ...(held === undefined ? {} : { held }),
    };
    yield csvRecord(control, controlKinds);
    // Only once the consumer has taken the control row and asked for more: a
    // reader gone before it (the generator's return() at the yield) is not done.
    opts.onDone?.(summary);
    return summary;
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    if (ledgerHeld) {
      // The shared lock is the session's: a connection back in the pool with it would keep every finalize run waiting.
      client.release(failure ?? new Error('the credit ledger lock was not let go of'));
    } else if (!open) {
      // Done, or `begin` itself failed: then the connection is suspect and is dropped.
      client.release(failure);
    } else {
      // Failed or abandoned mid-transaction: roll back, or drop a connection that cannot.
      await client.query('rollback').then(
        () => client.release(),
        (err: Error) => client.release(err),
      );
    }
    client.off('error', onClientError);
  }
}

/**
 * exportStream once its first batch is read: the prelude (checks, snapshot, cursor) and the first
 * fetch run before this resolves, so before any byte is sent; a failure there rejects here and is
 * answered as any route's error. The stream then fails only midway (a later batch, the commit).
 */
export async function openExportStream(pool: pg.Pool, kind: ExportKind, period: string, opts: ExportOptions = {}): Promise<Readable> {
  const chunks = exportCsv(pool, kind, period, opts);
  return streamOfStarted(chunks, await chunks.next());
}

/**
 * A byte stream of `chunks` whose first result was already taken. Destroyed at any moment (before
 * its first read, midway, after the end), it returns `chunks` exactly once: `chunks` holds a client
 * and an open transaction from that first result on. A wrapping generator would not do: one
 * destroyed before it started just completes, its `finally` never run (a pooled client lost for good).
 */
export function streamOfStarted(chunks: AsyncGenerator<string, unknown, undefined>, first: IteratorResult<string, unknown>): Readable {
  let pending: IteratorResult<string, unknown> | undefined = first;
  let returned = false;
  const iterator: AsyncIterableIterator<string> = {
    next: () => {
      const taken = pending;
      pending = undefined;
      return taken === undefined ? chunks.next() : Promise.resolve(taken);
    },
    // Readable.from calls it on every destroy (a failed next() too; no throw(), so never something else).
    return: async () => {
      if (!returned) {
        returned = true;
        pending = undefined;
        await chunks.return(undefined);
      }
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  // Not object mode: the high-water mark is in bytes, so at most about one batch waits in the buffer.
  return Readable.from(iterator, { objectMode: false, highWaterMark: 64 * 1024 });
}

/** The export as a byte stream that reads from the database only as fast as it is consumed. */
export function exportStream(pool: pg.Pool, kind: ExportKind, period: string, opts: ExportOptions = {}): Readable {
  // Not object mode: the high-water mark is in bytes, so at most about one batch waits in the buffer.
  return Readable.from(exportCsv(pool, kind, period, opts), { objectMode: false, highWaterMark: 64 * 1024 });
}

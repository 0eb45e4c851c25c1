// How long a consumer transaction that writes usage may live (docs/contracts/metering.md,
// "Usage commits within a bound of its learned_at"). A row's learned_at is its writing
// transaction's start (events.received_at, now()); invoicing trusts that no row commits
// more than an hour after it (LATE_MARGIN_INTERVAL): its finalize schedule skips a month
// with nothing learned since the last run's snapshot less that hour. A batch blocked on a
// lock past the bound is cut, rolled back and handed again by the bus, then learned anew.
import type pg from 'pg';
import type { Logger } from '@vault/runtime';

/** The hour invoicing's late-usage detection and finalize schedule allow a transaction to commit what a run did not see. */
export const LEARNED_MARGIN_MS = 60 * 60_000;
/** Well under the margin: the commit itself, and a client stalled between the last check and it, have the rest. */
export const TRANSACTION_LIMIT_MS = 15 * 60_000;
/** PostgreSQL 17 added transaction_timeout. */
const TRANSACTION_TIMEOUT_SINCE = 170_000;

export interface TransactionBound {
  limitMs: number;
  /** transaction_timeout (17+); else statement_timeout and idle_in_transaction_session_timeout. */
  native: boolean;
}

/** The bound of a server of `versionNum`: a limit the margin does not cover is refused, naming it. */
export function boundFor(versionNum: number, limitMs = TRANSACTION_LIMIT_MS): TransactionBound {
  if (!Number.isInteger(limitMs) || limitMs <= 0 || limitMs >= LEARNED_MARGIN_MS)
    throw new Error(
      `transactionLimitMs: must be a whole number of milliseconds above 0 and under ${LEARNED_MARGIN_MS} (the learned margin); got ${limitMs}`,
    );
  return { limitMs, native: versionNum >= TRANSACTION_TIMEOUT_SINCE };
}

const versions = new WeakMap<pg.Pool, Promise<number>>();

/** The server's version, asked once per pool (a failed ask is asked again). */
function serverVersion(pool: pg.Pool): Promise<number> {
  let version = versions.get(pool);
  if (!version) {
    version = pool.query<{ v: number }>(`select current_setting('server_version_num')::int as v`).then((r) => r.rows[0]!.v);
    version.catch(() => versions.delete(pool));
    versions.set(pool, version);
  }
  return version;
}

/** At the consumer's start: the bound on this server, said once when it is weaker than transaction_timeout. */
export async function transactionBound(pool: pg.Pool, limitMs = TRANSACTION_LIMIT_MS, log?: Logger): Promise<TransactionBound> {
  const version = await serverVersion(pool);
  const bound = boundFor(version, limitMs);
  if (!bound.native)
    log?.warn('metering.transaction_bound_weaker', {
      server_version_num: version,
      limit_ms: limitMs,
      reason:
        'no transaction_timeout before PostgreSQL 17: each statement and each pause is bounded, and a batch older than the limit is refused at its commit, but a batch of many statements may hold its locks longer',
    });
  return bound;
}

/** The first statement of a transaction that writes usage. */
export async function openBound(client: pg.PoolClient, bound: TransactionBound): Promise<void> {
  const ms = bound.limitMs;
  await client.query(
    bound.native
      ? `set local transaction_timeout = ${ms}`
      : `set local statement_timeout = ${ms}; set local idle_in_transaction_session_timeout = ${ms}`,
  );
}

/** A batch older than the limit at its commit: rolled back, handed again by the bus. */
export class TransactionTooLong extends Error {
  constructor(
    readonly ageMs: number,
    readonly limitMs: number,
  ) {
    super(`the batch's transaction ran ${Math.round(ageMs)} ms, over its limit of ${limitMs} ms: rolled back, to be applied again`);
  }
}

/**
 * The last statement before the commit: the database's clock, not a timer, so a clock stepped
 * forward meanwhile (which no timeout sees) refuses the commit too, as does a server with no
 * transaction_timeout whose statements each kept under the limit.
 */
export async function closeBound(client: pg.PoolClient, bound: TransactionBound): Promise<void> {
  const { rows } = await client.query<{ age: number }>(`select (extract(epoch from clock_timestamp() - now()) * 1000)::float8 as age`);
  const age = rows[0]!.age;
  if (age > bound.limitMs) throw new TransactionTooLong(age, bound.limitMs);
}

/** SQLSTATEs of a batch the bound cut: transaction_timeout (25P04), and on older servers statement_timeout (57014) or idle_in_transaction_session_timeout (25P03). */
const CUT = new Set(['25P04', '57014', '25P03']);

/** Whether `err` is the bound cutting a batch (it was rolled back: nothing of it committed). */
export function cutByBound(err: unknown): boolean {
  if (err instanceof TransactionTooLong) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CUT.has(code);
}

/** `fn` as a bounded transaction's body: the bound set first, checked last. */
export function bounded<T>(bound: TransactionBound, fn: (client: pg.PoolClient) => Promise<T>): (client: pg.PoolClient) => Promise<T> {
  return async (client) => {
    await openBound(client, bound);
    const result = await fn(client);
    await closeBound(client, bound);
    return result;
  };
}

// The real metering process with a request time limit (DATABASE_STATEMENT_TIMEOUT_MS), and a
// session of the test's own holding a table's lock: what the time-limit tests start from.
import pg from 'pg';
import { freePort, startService, type RunningService, type TestDatabase } from '@vault/testkit';
import { ADMIN, meteringDatabase } from './harness.ts';

/** Metering on the embedded bus, on a database of its own, its requests' statements stopped at `limitMs`. */
export async function startLimitedMetering(limitMs: number): Promise<{ db: TestDatabase; metering: RunningService }> {
  const db = await meteringDatabase();
  const metering = await startService('metering', {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: '',
    HOST: '127.0.0.1',
    ADMIN_TOKEN: ADMIN,
    METERING_PORT: String(await freePort()),
    DATABASE_STATEMENT_TIMEOUT_MS: String(limitMs),
  });
  return { db, metering };
}

/** A session of the test's own, in a transaction that took `lock` (a `lock table …` statement); commit to let go. */
export async function holdLock(db: TestDatabase, lock: string): Promise<{ holder: pg.Client; pid: number }> {
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  await holder.query('begin');
  await holder.query(lock);
  return { holder, pid: (holder as unknown as { processID: number }).processID };
}

/** Sessions of the database other than `holderPid` waiting on a lock (their query like `like`). */
export async function lockWaiters(db: TestDatabase, holderPid: number, like = '%'): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike $2 and pid <> $1",
    [holderPid, like],
  );
  return rows[0]!.n;
}

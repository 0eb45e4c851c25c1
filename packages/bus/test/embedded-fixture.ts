// Setup shared by the embedded bus's test files: a bus on a database of its
// own, optionally over the schema an older release left behind.
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { migrate } from '@vault/db';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { createEmbeddedBus, type Consumer, type EmbeddedBus } from '../src/index.ts';

export const LONG = { timeout: 120_000 };
export type LogLine = { event: string; fields: Record<string, string | number> };

/** A running bus: its database, the lines it logged, and the consumers to stop with it. */
export interface BusUnderTest {
  db: TestDatabase;
  bus: EmbeddedBus;
  lines: LogLine[];
  consumers: Consumer[];
}

export interface BusOptions {
  trimEveryMs?: number;
  /** Runs on the fresh database before the bus (and so its migrations) starts. */
  before?: (db: TestDatabase) => Promise<void>;
}

/** Runs `body` against an embedded bus on a fresh database, then stops its consumers and the bus and drops the database. */
export async function withBus(prefix: string, body: (t: BusUnderTest) => Promise<void>, options: BusOptions = {}): Promise<void> {
  const db = await freshDatabase(prefix);
  try {
    await options.before?.(db);
    const lines: LogLine[] = [];
    const consumers: Consumer[] = [];
    const bus = await createEmbeddedBus({
      pool: db.pool,
      url: db.url,
      trimEveryMs: options.trimEveryMs,
      log: (event, fields = {}) => lines.push({ event, fields }),
    });
    try {
      await body({ db, bus, lines, consumers });
    } finally {
      await Promise.all(consumers.map((c) => c.stop()));
      await bus.close();
    }
  } finally {
    await db.drop();
  }
}

/** A test (with LONG's timeout) of `body` against its own bus, as `withBus`. */
export function busTest(name: string, prefix: string, body: (t: BusUnderTest) => Promise<void>, options: BusOptions = {}): void {
  // node:test runs and reports the test; the promise it returns carries nothing more.
  void test(name, LONG, () => withBus(prefix, body, options));
}

/** As `withBus`, over a database migrated only up to before `older.migration` (e.g. '005') and holding `older.rows` (SQL). */
export function withBusOver(
  prefix: string,
  older: { migration: string; rows: string },
  body: (t: BusUnderTest) => Promise<void>,
): Promise<void> {
  return withBus(prefix, body, {
    before: async (db) => {
      await migrateBefore(db, older.migration);
      await db.pool.query(older.rows);
    },
  });
}

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

/** Applies the bus migrations whose names sort before `migration`: the schema the release before it left. */
async function migrateBefore(db: TestDatabase, migration: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bus-migrations-'));
  try {
    for (const file of (await readdir(MIGRATIONS)).filter((f) => f.endsWith('.sql') && f < migration))
      await copyFile(join(MIGRATIONS, file), join(dir, file));
    await migrate(db.pool, 'bus', dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

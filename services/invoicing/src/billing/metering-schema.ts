// Invoicing reads what metering publishes in the database both share (metering.md,
// "Published for invoicing"), made by metering's migrations, which metering applies
// at its own boot. Read before they ran, a view that is not there yet failed every
// loop (`relation "metering.usage_changes" does not exist`), or read as no usage at
// all (an export of a due month as an empty file): nothing of invoicing reads them
// until metering's schema is at METERING_NEEDED (docs/contracts/invoicing.md, "Metering's schema").
import type pg from 'pg';
import type { Logger } from '@vault/runtime';

/**
 * The last metering migration that changed what invoicing reads (022: billable_vanished;
 * 018: billable_horizon; 017: usage_changes.since). Raise it with the next one that does:
 * metering-schema.test.ts fails when a later migration touches a published view.
 */
export const METERING_NEEDED = '022_vanished_spans.sql';

type Queryable = pg.Pool | pg.PoolClient;

/** The number a migration's file name starts with. */
const numberOf = (name: string) => Number(/^(\d+)_/.exec(name)?.[1] ?? Number.NaN);

/** Whether `applied` (metering's latest migration) is METERING_NEEDED or later. */
const enough = (applied: string | undefined) => applied !== undefined && numberOf(applied) >= numberOf(METERING_NEEDED);

/** Metering's latest applied migration in this database; undefined when its schema is not there. */
export async function meteringMigration(db: Queryable): Promise<string | undefined> {
  const table = await db.query<{ present: boolean }>(`select to_regclass('metering.schema_migrations') is not null as present`);
  if (!table.rows[0]?.present) return undefined;
  const { rows } = await db.query<{ name: string }>(
    `select name from metering.schema_migrations order by substring(name from '^[0-9]+')::int desc, name desc limit 1`,
  );
  return rows[0]?.name;
}

/** What invoicing reads of metering's is not in this database yet: nothing can be said of its usage. */
export class MeteringNotReadyError extends Error {
  /** The HTTP error handler would answer 503 "internal error"; routes answer it themselves (exports). */
  readonly statusCode = 503;
  constructor(readonly applied: string | undefined) {
    super(
      `${applied === undefined ? "metering's schema is not in this database" : `metering's schema in this database is at migration ${applied}`}, ` +
        `and invoicing reads what metering's migrations up to ${METERING_NEEDED} publish: ` +
        'start metering on the same DATABASE_URL (it applies its migrations at boot), or run `vault migrate`',
    );
  }
}

/** Throws MeteringNotReadyError unless metering's schema is at METERING_NEEDED or later. */
export async function requireMetering(db: Queryable): Promise<void> {
  const applied = await meteringMigration(db);
  if (!enough(applied)) throw new MeteringNotReadyError(applied);
}

export interface MeteringWait {
  log: Logger;
  /** Between looks (default 1 s). */
  pollMs?: number;
  /** Between two `invoicing.waiting_for_metering` lines (default 30 s). */
  logEveryMs?: number;
}

/**
 * At boot, before anything reads metering's views: returns once metering's schema is at
 * METERING_NEEDED. Waits for ever, saying so at once and every `logEveryMs`: metering
 * migrates at its own boot, which an upgrade's migrations may make long, and a bounded
 * wait would have invoicing exit and restart through them (under `vault start`, stopping
 * metering mid-migration with it). A stop signal ends the wait (runApp, during boot).
 */
export async function waitForMetering(db: Queryable, options: MeteringWait): Promise<void> {
  const started = Date.now();
  let saidAt: number | undefined;
  for (;;) {
    const applied = await meteringMigration(db);
    const waited = Math.round((Date.now() - started) / 1000);
    if (enough(applied)) {
      if (saidAt !== undefined) options.log.info('invoicing.metering_ready', { migration: applied!, waited_s: waited });
      return;
    }
    if (saidAt === undefined || Date.now() - saidAt >= (options.logEveryMs ?? 30_000)) {
      saidAt = Date.now();
      options.log.warn('invoicing.waiting_for_metering', {
        needs: METERING_NEEDED,
        has: applied ?? 'none',
        waited_s: waited,
        reason: new MeteringNotReadyError(applied).message,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1_000));
  }
}

// Test fixtures: a database with metering's and invoicing's schemas, and usage
// written where metering publishes it (its views read these tables).
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { migrate } from '@vault/db';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { ensureInvoicingSchema, INVOICING_MIGRATIONS } from '../src/cli/migrations.ts';

// Metering's migrations by path, not its code: invoicing only reads its published views.
export const METERING_MIGRATIONS = fileURLToPath(new URL('../../metering/migrations', import.meta.url));

export async function billingDatabase(): Promise<TestDatabase> {
  const db = await freshDatabase('invoicing');
  await migrate(db.pool, 'metering', METERING_MIGRATIONS);
  await ensureInvoicingSchema(db.pool);
  return db;
}

/**
 * A database with metering's schema and invoicing's as it was before the
 * migration named `first` (its earlier files, copied apart): a test writes
 * what older code wrote, then `migrateRest()` runs the others over it.
 */
export async function databaseBeforeMigration(
  name: string,
  first: string,
): Promise<{ db: TestDatabase; migrateRest(): Promise<void>; drop(): Promise<void> }> {
  const db = await freshDatabase(name);
  await migrate(db.pool, 'metering', METERING_MIGRATIONS);
  const older = await mkdtemp(join(tmpdir(), `invoicing-before-${first}-`));
  for (const file of await readdir(INVOICING_MIGRATIONS)) {
    if (file < first) await cp(join(INVOICING_MIGRATIONS, file), join(older, file));
  }
  await migrate(db.pool, 'invoicing', older);
  return {
    db,
    async migrateRest() {
      await migrate(db.pool, 'invoicing', INVOICING_MIGRATIONS);
    },
    async drop() {
      await db.drop();
      await rm(older, { recursive: true, force: true });
    },
  };
}

export interface SeedUsage {
  app: string;
  kind: 'dyno' | 'addon';
  key: string;
  product: string;
  from: string;
  /** Omitted: still running. */
  to?: string;
  /** When metering learned it (default: now). */
  learnedAt?: string;
}

export interface SeedOwner {
  app: string;
  account: string;
  from: string;
  to?: string;
  learnedAt?: string;
}

/** A basic dyno's span of `app` (key web.1 unless given), as seedUsage writes it; running when `to` is omitted. */
export const basicDyno = (app: string, from: string, to?: string, learnedAt?: string, key = 'web.1'): SeedUsage => ({
  app,
  kind: 'dyno',
  key,
  product: 'dyno:basic',
  from,
  ...(to === undefined ? {} : { to }),
  ...(learnedAt === undefined ? {} : { learnedAt }),
});

let subjects = 0;

/** Writes usage intervals as metering derives them; each span is its own subject. */
export async function seedUsage(pool: pg.Pool, spans: readonly SeedUsage[]): Promise<void> {
  for (const s of spans) {
    subjects += 1;
    await pool.query(
      `insert into metering.usage_intervals (subject, subject_id, kind, app_id, key, product, during, learned_at)
       values ($1, $2, $3, $4, $5, $6, tstzrange($7, $8, '[)'), coalesce($9::timestamptz, now()))`,
      [`seed-${subjects}`, 1_000_000 + subjects, s.kind, s.app, s.key, s.product, s.from, s.to ?? null, s.learnedAt ?? null],
    );
  }
}

/**
 * A stop metering learns late: it derives the subject's intervals again, so
 * the app's running interval of that key becomes closed, learned now.
 */
export async function seedStop(pool: pg.Pool, app: string, key: string, at: string): Promise<void> {
  const { rowCount } = await pool.query(
    `update metering.usage_intervals set during = tstzrange(lower(during), $3::timestamptz, '[)'), learned_at = now()
      where app_id = $1 and key = $2 and upper_inf(during)`,
    [app, key, at],
  );
  if (rowCount !== 1) throw new Error(`${app} ${key}: ${rowCount} running intervals, expected 1`);
}

export async function seedOwners(pool: pg.Pool, owners: readonly SeedOwner[]): Promise<void> {
  for (const o of owners) {
    await pool.query(
      `insert into metering.app_ownership (app_id, app_subject_id, account_id, during, learned_at)
       values ($1, hashtext($1), $2, tstzrange($3, $4, '[)'), coalesce($5::timestamptz, now()))`,
      [o.app, o.account, o.from, o.to ?? null, o.learnedAt ?? null],
    );
  }
}

/** A sequence hole on one of an app's subjects, as metering records it. */
export async function seedGap(pool: pg.Pool, app: string, subject: string, unreliableFrom: string | null): Promise<void> {
  await pool.query(`insert into metering.subject_gaps (subject, app_id, missing_sequence, unreliable_from) values ($1, $2, 2, $3)`, [
    subject,
    app,
    unreliableFrom,
  ]);
}

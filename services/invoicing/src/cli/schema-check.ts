import { readdir } from 'node:fs/promises';
import type pg from 'pg';
import { migrationFiles } from '@vault/db';
import { INVOICING_MIGRATIONS } from './migrations.ts';

/** Invoicing's schema is behind this checkout's migrations: a reading command does not apply them. */
export class SchemaNotCurrentError extends Error {}

/**
 * Checks, reading only `invoicing.schema_migrations`, that every migration of
 * this checkout is applied: a command that only reads (an export) never changes
 * the schema, and runs with a SELECT-only role. Migrations are applied by an
 * app's start and by `vault migrate`, in a deploy, never under an older app by
 * an operator's newer checkout. A schema newer than the checkout is fine.
 */
export async function checkInvoicingSchema(pool: pg.Pool, dir = INVOICING_MIGRATIONS): Promise<void> {
  const files = migrationFiles(await readdir(dir));
  const table = await pool.query<{ present: boolean }>(`select to_regclass('invoicing.schema_migrations') is not null as present`);
  if (!table.rows[0]!.present) {
    throw new SchemaNotCurrentError("invoicing's schema is not in this database: run `vault migrate` (or start invoicing) first");
  }
  const { rows } = await pool.query<{ name: string }>('select name from invoicing.schema_migrations');
  const applied = new Set(rows.map((r) => r.name));
  const pending = files.filter((f) => !applied.has(f));
  if (pending.length > 0) {
    throw new SchemaNotCurrentError(
      `invoicing's schema is not current: ${pending.length} migration(s) not applied (${pending.join(', ')}); ` +
        'an export changes nothing: run `vault migrate` (or deploy and start invoicing) first',
    );
  }
}

import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { migrate } from '@vault/db';

export const INVOICING_MIGRATIONS = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Invoicing's tables, so a command works on a fresh database too; idempotent. */
export async function ensureInvoicingSchema(pool: pg.Pool): Promise<void> {
  await migrate(pool, 'invoicing', INVOICING_MIGRATIONS);
}

import { fileURLToPath } from 'node:url';
import { migrate } from '@vault/db';
import type { TestDatabase } from './index.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Each app's schema and the folder of its migrations. */
const SCHEMAS = {
  metering: ['metering', 'services/metering/migrations'],
  invoicing: ['invoicing', 'services/invoicing/migrations'],
  'cc-forms': ['cc_forms', 'services/cc-forms/migrations'],
  'gateway-sandbox': ['gateway_sandbox', 'services/gateway-sandbox/migrations'],
} as const;

export type AppName = keyof typeof SCHEMAS;

/**
 * Migrates the named apps' schemas, in the order given (invoicing reads
 * metering's views, so metering comes first when both are wanted); all four
 * when none is named, as a database shared by every app has them.
 */
export async function migrateApps(db: TestDatabase, ...apps: AppName[]): Promise<void> {
  const wanted: AppName[] = apps.length > 0 ? apps : ['metering', 'cc-forms', 'invoicing', 'gateway-sandbox'];
  for (const app of wanted) {
    const [schema, dir] = SCHEMAS[app];
    await migrate(db.pool, schema, `${root}${dir}`);
  }
}

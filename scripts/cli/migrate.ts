import { migrate } from '@vault/db';
import { MIGRATION_TARGETS } from './apps.ts';
import { cliLog, cliSettings, openCliDatabase } from './settings.ts';

/** `vault migrate`: applies every app's pending migrations, each in its schema. */
export async function migrateCommand(): Promise<number> {
  const db = await openCliDatabase(cliSettings());
  try {
    for (const target of MIGRATION_TARGETS) {
      const result = await migrate(db.pool, target.schema, target.migrations);
      cliLog.info('db.migrated', {
        schema: result.schema,
        applied: result.applied.length,
        already_applied: result.alreadyApplied,
        files: result.applied.join(',') || undefined,
      });
    }
    return 0;
  } finally {
    await db.close();
  }
}

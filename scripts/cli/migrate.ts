import { migrate } from '@vault/db';
import { MIGRATION_TARGETS } from './apps.ts';
import { parseCommand } from './command.ts';
import { cliLog, cliSettings, openCliDatabase } from './settings.ts';
import { migrateSpec } from './migrate-spec.ts';

/** `vault migrate`: applies every app's pending migrations, each in its schema. */
export async function migrateCommand(args: string[]): Promise<number> {
  parseCommand(migrateSpec, args);
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

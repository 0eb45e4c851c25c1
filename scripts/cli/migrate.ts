import { migrate } from '@vault/db';
import { MIGRATION_TARGETS } from './apps.ts';
import { parseCommand, type CommandSpec } from './command.ts';
import { cliLog, cliSettings, openCliDatabase } from './settings.ts';

export const migrateSpec: CommandSpec = {
  name: 'migrate',
  summary: "apply every app's pending database migrations",
  details:
    'Each app (and the embedded bus) in its own schema of DATABASE_URL, or of the embedded\n' +
    'PostgreSQL under VAULT_HOME when it is unset; already applied ones are skipped.',
};

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

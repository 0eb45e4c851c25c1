// `vault migrate`: its usage and options, apart from what it does (migrate.ts), so that
// `vault help` and `--help` load this alone.
import type { CommandSpec } from './command.ts';

export const migrateSpec: CommandSpec = {
  name: 'migrate',
  summary: "apply every app's pending database migrations",
  details:
    'Each app (and the embedded bus) in its own schema of DATABASE_URL, or of the embedded\n' +
    'PostgreSQL under VAULT_HOME when it is unset; already applied ones are skipped.',
};

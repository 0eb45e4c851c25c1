import { join } from 'node:path';
import type { Database } from '@vault/db';
import { createLogger, loadDotEnv, openReachableDatabase, parseConfig, type Logger } from '@vault/runtime';
import { VaultSettings } from './vault-settings.ts';

/** The CLI's configuration: the same variables, parsed the same way as the apps'. */
export function cliSettings(): VaultSettings {
  loadDotEnv();
  return parseConfig(VaultSettings);
}

export const cliLog: Logger = createLogger({ app: 'vault' });

/** The database once it answers; one that does not is an error naming DATABASE_URL (main.ts prints its message). */
export function openCliDatabase(settings: VaultSettings): Promise<Database> {
  return openReachableDatabase(settings, (event, fields) => cliLog.info(event, fields));
}

export function vaultPath(settings: { VAULT_HOME: string }, ...parts: string[]): string {
  return join(settings.VAULT_HOME, ...parts);
}

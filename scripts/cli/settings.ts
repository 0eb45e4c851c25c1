import { join } from 'node:path';
import { openDatabase, type Database } from '@vault/db';
import { createLogger, loadDotEnv, parseConfig, type Logger } from '@vault/runtime';
import { VaultSettings } from './vault-settings.ts';

/** The CLI's configuration: the same variables, parsed the same way as the apps'. */
export function cliSettings(): VaultSettings {
  loadDotEnv();
  return parseConfig(VaultSettings);
}

export const cliLog: Logger = createLogger({ app: 'vault' });

export function openCliDatabase(settings: VaultSettings): Promise<Database> {
  return openDatabase({
    url: settings.DATABASE_URL,
    home: settings.VAULT_HOME,
    embeddedPort: settings.EMBEDDED_PG_PORT,
    log: (event, fields) => cliLog.info(event, fields),
  });
}

export function vaultPath(settings: { VAULT_HOME: string }, ...parts: string[]): string {
  return join(settings.VAULT_HOME, ...parts);
}

import { join } from 'node:path';
import type { Database } from '@vault/db';
import { ConfigError, createLogger, loadDotEnv, openReachableDatabase, parseConfig, type Logger } from '@vault/runtime';
import { bootVariables } from '@vault/runtime/variables';
import { holdDatabase } from './early-exit.ts';
import { APP_SETTINGS, VaultSettings } from './vault-settings.ts';

type AppName = keyof typeof APP_SETTINGS;

/** What a command reads: the variables of the apps it acts as, and any others by name. */
export interface CommandReads {
  apps?: readonly AppName[];
  variables?: readonly (keyof VaultSettings)[];
}

/**
 * The CLI's configuration: the same variables, parsed the same way as the
 * apps'. A bad variable the command does not read (another app's SMTP_URL for
 * `vault simulate`) is that app's concern: it is read as unset here, as each
 * app parses only its own; one the command reads is named, with every other such.
 */
export function cliSettings(reads: CommandReads = {}): VaultSettings {
  loadDotEnv();
  const env: Record<string, string | undefined> = { ...process.env };
  try {
    return parseConfig(VaultSettings, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const relevant = new Set<string>([
      ...Object.keys(bootVariables),
      ...(reads.apps ?? []).flatMap((app) => Object.keys(APP_SETTINGS[app].shape)),
      ...(reads.variables ?? []),
    ]);
    const own = err.problems.filter((p) => relevant.has(p.variable));
    if (own.length > 0 || err.problems.some((p) => !(p.variable in VaultSettings.shape)))
      throw new ConfigError(own.length > 0 ? own : err.problems);
    for (const p of err.problems) delete env[p.variable];
    return parseConfig(VaultSettings, env);
  }
}

export const cliLog: Logger = createLogger({ app: 'vault' });

/**
 * The database once it answers; one that does not is an error naming DATABASE_URL (main.ts prints its
 * message). Let go of if the command ends early (early-exit.ts): its embedded server is not left running.
 */
export function openCliDatabase(settings: VaultSettings, log: Logger = cliLog): Promise<Database> {
  return holdDatabase(openReachableDatabase(settings, (event, fields) => log.info(event, fields)));
}

export function vaultPath(settings: { VAULT_HOME: string }, ...parts: string[]): string {
  return join(settings.VAULT_HOME, ...parts);
}

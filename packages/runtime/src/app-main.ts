import type { FastifyInstance } from 'fastify';
import { migrate, openDatabase, type Database } from '@vault/db';
import { ConfigError, parseConfig } from './config.ts';
import { loadDotEnv } from './env.ts';
import { createHttpApp } from './http.ts';
import { createLogger, type Logger } from './log.ts';
import { VaultSettings } from './settings.ts';

export interface AppContext {
  settings: VaultSettings;
  db: Database;
  http: FastifyInstance;
  log: Logger;
}

export interface AppDefinition {
  /** The app's name, also its PostgreSQL schema. */
  name: string;
  schema: string;
  /** Folder of the app's `NNN_name.sql` migrations. */
  migrations: string;
  port(settings: VaultSettings): number;
  /** Adds routes and background work; returns what to stop on shutdown. */
  build(ctx: AppContext): Promise<{ stop?(): Promise<void> } | void>;
}

/**
 * Boots one app, crash-only style: configuration parsed once, migrations
 * applied, then serve. SIGTERM/SIGINT stop it gracefully; a kill -9 must be
 * just as safe, which each app's own design guarantees.
 */
export async function runApp(def: AppDefinition): Promise<void> {
  loadDotEnv();
  const log = createLogger({ app: def.name });
  // Until serving, a stop signal just ends the process: nothing is in flight
  // that a restart would not redo.
  let shutdown: (signal: string) => unknown = (signal) => {
    log.info('app.stopped', { signal, during: 'boot' });
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  let settings: VaultSettings;
  try {
    settings = parseConfig(VaultSettings);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log.error('config.invalid', err);
    process.exit(1);
  }
  const dbLog = (event: string, fields?: Record<string, string | number>) => log.info(event, fields);
  const db = await openDatabase({
    url: settings.DATABASE_URL,
    home: settings.VAULT_HOME,
    embeddedPort: settings.EMBEDDED_PG_PORT,
    log: dbLog,
  });
  const migrated = await migrate(db.pool, def.schema, def.migrations);
  log.info('db.migrated', { schema: def.schema, applied: migrated.applied.length });
  const http = createHttpApp(log);
  let built: { stop?(): Promise<void> };
  try {
    built = (await def.build({ settings, db, http, log })) ?? {};
  } catch (err) {
    // Settings an app derives in build (the gateway's, say) fail like the parsed ones.
    if (!(err instanceof ConfigError)) throw err;
    log.error('config.invalid', err);
    process.exit(1);
  }
  const port = def.port(settings);
  const address = await http.listen({ port, host: settings.HOST });
  log.info('app.listening', { url: address.replace('0.0.0.0', 'localhost'), port });

  let stopping = false;
  shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('app.stopping', { signal });
    await http.close();
    await built.stop?.();
    await db.close();
    log.info('app.stopped');
    process.exit(0);
  };
}

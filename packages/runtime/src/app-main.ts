import type { FastifyInstance } from 'fastify';
import { migrate, openDatabase, openRequestPool, type Database } from '@vault/db';
import { databaseBootError, listenBootError, reportBootFailure, within } from './boot-errors.ts';
import { loadDotEnv } from './env.ts';
import { databaseCheck, firstProblem, type HealthCheck } from './health.ts';
import { createHttpApp } from './http.ts';
import { createLogger, type Logger } from './log.ts';
import type { BootSettings } from './variables.ts';

/** How long boot waits for the database's first answer. */
const DATABASE_CONNECT_TIMEOUT_MS = 5_000;
/** How long a failed boot waits for its database to close (the embedded server it started to stop). */
const BOOT_FAILURE_CLOSE_MS = 10_000;
/** Connections for HTTP handlers (beside the main pool's 10 for background work). */
const REQUEST_POOL_SIZE = 10;
/** How long a stop signal waits for in-flight requests and background work before the process ends anyway. */
const SHUTDOWN_WITHIN_MS = 20_000;

export interface AppContext<C extends BootSettings = BootSettings> {
  settings: C;
  db: Database;
  /**
   * What HTTP handlers query through: sessions whose statements stop at
   * DATABASE_STATEMENT_TIMEOUT_MS (a 503 then). Background work keeps `db.pool`, unlimited.
   */
  requestPool: Database['pool'];
  http: FastifyInstance;
  log: Logger;
  /**
   * Whether a stop was asked for (a signal, `vault start` gone). Work cut short on the way down
   * is that stop, not a failure: a terminal's Ctrl-C stops the embedded PostgreSQL with us.
   */
  stopping(): boolean;
}

/** What `build` hands back: what to stop on shutdown, and what else /health must check. */
export interface BuiltApp {
  stop?(): Promise<void>;
  /** Why the app cannot do its job beyond its database (metering: its consumer stopped), or undefined. */
  unavailable?: HealthCheck;
}

/** The settings' number-valued variables: which one is the app's port. */
type PortVariable<C> = { [K in keyof C]: C[K] extends number ? K : never }[keyof C] & string;

export interface AppDefinition<C extends BootSettings> {
  /** The app's name, also its PostgreSQL schema. */
  name: string;
  schema: string;
  /** Folder of the app's `NNN_name.sql` migrations. */
  migrations: string;
  /**
   * Parses the app's own configuration (`services/<app>/src/config.ts`): only
   * the variables it reads, and what it derives from them (a price book file).
   * A ConfigError names every bad variable; it is thrown before the database is touched.
   */
  config(env: NodeJS.ProcessEnv): C;
  /** Run-time parameters each of its PostgreSQL sessions starts with (metering: `{ jit: 'off' }`). */
  sessionSettings?: Record<string, string>;
  /** The variable naming the port it listens on (named again when the port is taken). */
  port: PortVariable<C>;
  /** The web apps: whose X-Forwarded-Proto/For to believe (their TRUST_PROXY); unset: nobody's. */
  trustProxy?(settings: C): boolean | string[];
  /** Adds routes and background work; returns what to stop on shutdown. */
  // biome-ignore lint/suspicious/noConfusingVoidType: an app with nothing to stop returns nothing
  build(ctx: AppContext<C>): Promise<BuiltApp | void>;
}

/**
 * Boots one app, crash-only style: configuration parsed once, migrations
 * applied, then serve. Any failure on the way is one logfmt line naming the
 * variable at fault (`config.invalid`, or `boot.failed variable=…`) and exit 1.
 * SIGTERM/SIGINT stop it gracefully; a kill -9 must be just as safe, which each
 * app's own design guarantees.
 */
export async function runApp<C extends BootSettings>(def: AppDefinition<C>): Promise<void> {
  const log = createLogger({ app: def.name });
  // Until serving, a stop signal just ends the process: nothing is in flight
  // that a restart would not redo.
  let shutdown: (signal: string) => unknown = (signal) => {
    log.info('app.stopped', { signal, during: 'boot' });
    process.exit(0);
  };
  let stopAsked = false;
  const stop = (signal: string) => {
    stopAsked = true;
    void shutdown(signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A closed terminal: stop as on Ctrl-C. Its writes may fail from now on (EIO): the stop goes on.
  process.on('SIGHUP', () => {
    ignoreOutputErrors();
    stop('SIGHUP');
  });
  // Started by `vault start` (an IPC channel to it): when it dies without stopping us (kill -9,
  // a closed terminal), the channel closes, and so do we, rather than hold the port and the
  // bus's partitions until the next start trips over us. Our output went to it: those writes
  // fail (EPIPE), and must not end the stop half-way.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => {
      ignoreOutputErrors();
      stop('parent_gone');
    });
  }
  const step = async <T>(run: () => T | Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      reportBootFailure(log, err);
      process.exit(1);
    }
  };

  // .env unreadable (a directory, no permission) is a boot failure like any other, in one line.
  await step(() => loadDotEnv());
  const settings = await step(() => def.config(process.env));
  const db = await step(() => openAppDatabase(settings, log, def.sessionSettings));
  // A step failing once the database is open closes it first: an embedded server this boot
  // started would otherwise run on after the exit (close() leaves one others use running).
  const stepWithDb = <T>(run: () => T | Promise<T>): Promise<T> =>
    step(async () => {
      try {
        return await run();
      } catch (err) {
        await within(db.close(), BOOT_FAILURE_CLOSE_MS).catch(() => {});
        throw err;
      }
    });
  const migrated = await stepWithDb(() => migrate(db.pool, def.schema, def.migrations));
  log.info('db.migrated', { schema: def.schema, applied: migrated.applied.length });
  // Its own sessions, not `set local` in each handler's transactions: every query a handler
  // makes (one-statement reads too) is limited, and no job sharing a client inherits it.
  const requestPool = openRequestPool(db.url, {
    statementTimeoutMs: settings.DATABASE_STATEMENT_TIMEOUT_MS,
    max: REQUEST_POOL_SIZE,
    log: (event, fields) => log.info(event, fields),
  });
  const checks: HealthCheck[] = [databaseCheck(db.pool)];
  const http = createHttpApp(log, {
    health: () => firstProblem(checks),
    trustProxy: def.trustProxy?.(settings),
    requestTimeoutMs: settings.HTTP_REQUEST_TIMEOUT_MS,
    maxConnections: settings.HTTP_MAX_CONNECTIONS,
    statementTimeoutMs: settings.DATABASE_STATEMENT_TIMEOUT_MS,
  });
  const built = (await stepWithDb(() => def.build({ settings, db, requestPool, http, log, stopping: () => stopAsked }))) ?? {};
  if (built.unavailable) checks.push(built.unavailable);
  const port = settings[def.port] as number;
  const address = await stepWithDb(() =>
    http.listen({ port, host: settings.HOST }).catch(async (err: unknown) => {
      // Its background work first: the database's close waits for the sessions it holds.
      await within(Promise.resolve(built.stop?.()), BOOT_FAILURE_CLOSE_MS).catch(() => {});
      throw listenBootError(err, def.port, port, settings.HOST);
    }),
  );
  log.info('app.listening', { url: address.replace('0.0.0.0', 'localhost'), port });

  let stopping = false;
  shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('app.stopping', { signal });
    // Bounded, and never an unhandled rejection: a stop that hangs or fails is logged, and the
    // process ends all the same (crash-only: nothing it held needs a clean stop).
    try {
      await within(
        (async () => {
          await http.close();
          await built.stop?.();
          await requestPool.end();
          await db.close();
        })(),
        SHUTDOWN_WITHIN_MS,
      );
      log.info('app.stopped');
      process.exit(0);
    } catch (err) {
      log.error('app.stop_failed', err);
      process.exit(1);
    }
  };
}

/** Output nobody reads any more (its pipe or terminal gone): its write errors are not the process's end. */
export function ignoreOutputErrors(): void {
  if (outputErrorsIgnored) return;
  outputErrorsIgnored = true;
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
}
let outputErrorsIgnored = false;

/** The database, answering: DATABASE_URL's server, or the embedded one. */
function openAppDatabase(settings: BootSettings, log: Logger, sessionSettings?: Record<string, string>): Promise<Database> {
  return openReachableDatabase(settings, (event, fields) => log.info(event, fields), sessionSettings);
}

/**
 * The database once it answers a query (apps and the `vault` CLI): a server
 * that does not is a BootError naming DATABASE_URL (or the embedded server's
 * port and directory) and why, never a driver's stack.
 */
export async function openReachableDatabase(
  settings: Pick<BootSettings, 'DATABASE_URL' | 'VAULT_HOME' | 'EMBEDDED_PG_PORT'>,
  log: (event: string, fields?: Record<string, string | number>) => void,
  sessionSettings?: Record<string, string>,
): Promise<Database> {
  let db: Database | undefined;
  try {
    db = await openDatabase({
      url: settings.DATABASE_URL,
      home: settings.VAULT_HOME,
      embeddedPort: settings.EMBEDDED_PG_PORT,
      log,
      ...(sessionSettings ? { sessionSettings } : {}),
    });
    await within(db.pool.query('select 1'), DATABASE_CONNECT_TIMEOUT_MS);
    return db;
  } catch (err) {
    // A server that took the connection and never answers holds it: closing must not wait for it.
    if (db) await within(db.close(), 1_000).catch(() => {});
    throw databaseBootError(err, settings);
  }
}

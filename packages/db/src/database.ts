import { join } from 'node:path';
import pg from 'pg';
import { ensureEmbeddedPostgres, type EmbeddedServer, withoutTls } from './embedded.ts';

export interface DatabaseOptions {
  /** DATABASE_URL; unset means the embedded server. */
  url?: string | undefined;
  /** VAULT_HOME: the embedded server lives in `<home>/postgres`. */
  home: string;
  embeddedPort: number;
  poolSize?: number;
  /** How long a query waits for a pooled connection (opening one, or one to come free) before it fails. */
  connectionTimeoutMs?: number;
  log?: (event: string, fields?: Record<string, string | number>) => void;
  /**
   * Run-time parameters every session starts with, e.g. `{ jit: 'off' }`. They
   * travel in `url` (libpq's `options`), so sessions others open from it (the
   * embedded bus's) start with them too.
   */
  sessionSettings?: Record<string, string>;
}

export interface Database {
  pool: pg.Pool;
  url: string;
  embedded: boolean;
  /** Ends the pool, and stops the embedded server if this process started it. */
  close(): Promise<void>;
  /**
   * For a process ending early (a `vault` command whose output's reader went away): ends every
   * session of the pool at once, a query in flight failing, then stops the embedded server as
   * close() does; close() would wait for sessions still in use. Without it the server that
   * process started ran on after it, orphaned.
   */
  abort(): Promise<void>;
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  let server: EmbeddedServer | undefined;
  let url = opts.url;
  if (!url) {
    server = await ensureEmbeddedPostgres({
      dir: join(opts.home, 'postgres'),
      port: opts.embeddedPort,
      ...(opts.log ? { log: opts.log } : {}),
    });
    url = withoutTls(server.url);
  }
  let pool: pg.Pool;
  try {
    url = withSessionSettings(url, opts.sessionSettings ?? {});
    pool = openPool(url, { max: opts.poolSize ?? 10, connectionTimeoutMs: opts.connectionTimeoutMs, log: opts.log });
  } catch (err) {
    // The server started here would outlive the command: nobody holds it to close it.
    if (server?.startedHere) await server.stop().catch(() => {});
    throw err;
  }
  // Every session of the pool, idle or in use: abort() ends them all.
  const sessions = new Set<pg.Client>();
  pool.on('connect', (client) => sessions.add(client));
  pool.on('remove', (client) => sessions.delete(client));
  // Once, whether close() or abort() asks, or both at once.
  let stopped: Promise<void> | undefined;
  // A reused server's stop stops nothing: it says when it is left running with its starter gone.
  const stopServer = () => (stopped ??= server ? server.stop() : Promise.resolve());
  return {
    pool,
    url,
    embedded: !opts.url,
    close: async () => {
      await pool.end();
      await stopServer();
    },
    abort: async () => {
      await Promise.all([...sessions].map((client) => client.end().catch(() => {})));
      await stopServer();
    },
  };
}

/**
 * `url` with `-c name=value` added to its `options` parameter, which the
 * server applies at connection start, before any statement: nothing can run
 * in the session without them, unlike a `set` sent after connecting.
 */
export function withSessionSettings(url: string, settings: Record<string, string>): string {
  const entries = Object.entries(settings);
  if (entries.length === 0) return url;
  const parsed = new URL(url);
  const options = entries.map(([name, value]) => {
    // Spaces and backslashes would need libpq's escaping; no setting we use has them.
    if (!/^[a-z_.]+$/.test(name) || !/^[\w.-]+$/.test(value)) throw new Error(`session setting ${name}=${value}: unsupported characters`);
    return `-c ${name}=${value}`;
  });
  const existing = parsed.searchParams.get('options');
  parsed.searchParams.set('options', [existing, ...options].filter(Boolean).join(' '));
  return parsed.toString();
}

/** A pool never waits for a connection longer than this by default: busy is an error, not a hang. */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;

export interface PoolOptions {
  max: number;
  /** Default DEFAULT_CONNECTION_TIMEOUT_MS. */
  connectionTimeoutMs?: number | undefined;
  log?: ((event: string, fields?: Record<string, string | number>) => void) | undefined;
}

/**
 * A pool of at most `max` connections to `url` whose queries fail ("timeout
 * exceeded when trying to connect") after waiting `connectionTimeoutMs` for a
 * connection, instead of queueing for ever; every pool of every app is made here.
 */
export function openPool(url: string, opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
  });
  // An idle client's error (server restart) must not crash the process.
  pool.on('error', (err) => opts.log?.('postgres.pool_error', { error: err.message }));
  return pool;
}

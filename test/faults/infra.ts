// The fault test's own PostgreSQL and Kafka broker, under its own folder and
// on ports of its own, so stopping and restarting them never disturbs the
// other test files that share `npm test`'s servers.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensureEmbeddedPostgres, type EmbeddedServer } from '@vault/db';
import { isAlive, startKafka, stopKafka } from '@vault/kafka-local';
import { freePort } from '@vault/testkit';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface OwnPostgres {
  /** The server's `postgres` database URL, for creating the test's database. */
  adminUrl: string;
  /** The postmaster's pid, while it runs. */
  pid(): number | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * An embedded PostgreSQL under `dir` on a free port. The cluster is kept
 * between runs (initdb once); a server a killed earlier run left behind in
 * that folder is stopped first, so this run is the one that can restart it.
 */
export async function ownPostgres(dir: string, log: (line: string) => void): Promise<OwnPostgres> {
  const dataDir = join(dir, 'data');
  const leftover = postmasterPid(dataDir);
  if (leftover !== undefined && isOurPostgres(leftover, dataDir)) {
    log(`postgres: stopping the server an earlier run left in ${dataDir} (pid ${leftover})`);
    process.kill(leftover, 'SIGINT');
    for (let i = 0; i < 300 && isAlive(leftover); i++) await sleep(100);
  }
  let port = await freePort();
  let server: EmbeddedServer | undefined;
  const start = async () => {
    server = await ensureEmbeddedPostgres({ dir, port, fast: true });
    if (!server.startedHere) throw new Error(`something else answers on port ${port}`);
  };
  // The first start may lose its free port to another test file running beside this one
  // (the start then fails, naming the port): try again on another port.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      if (attempt === 3) throw err ?? new Error(`postgres did not start on port ${port}`);
      log(`postgres: did not start on port ${port} (${err instanceof Error ? err.message : String(err)}); trying another port`);
      port = await freePort();
    }
  }
  return {
    adminUrl: `postgres://postgres:vault-local@127.0.0.1:${port}/postgres`,
    pid: () => postmasterPid(dataDir),
    async stop() {
      // An outage: stopped under the apps still connected to it.
      await server?.stop({ force: true });
      server = undefined;
    },
    start,
  };
}

function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

function isOurPostgres(pid: number, dataDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dataDir);
  } catch {
    return false;
  }
}

export interface OwnKafka {
  brokers: string;
  pid(): number | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A fresh single-node broker in `stateDir` (a leftover one and its data are removed first). */
export async function ownKafka(stateDir: string, log: (line: string) => void): Promise<OwnKafka> {
  await stopKafka({ stateDir });
  rmSync(stateDir, { recursive: true, force: true });
  // The controller takes the port after the broker's: find two free in a row.
  let port = await freePort();
  for (let i = 0; i < 20 && !(await portsFree(port)); i++) port = await freePort();
  let pid: number | undefined;
  const start = async () => {
    const started = await startKafka({ stateDir, port, timeoutMs: 90_000 });
    if (started.reused) throw new Error(`a broker was already running in ${stateDir}`);
    pid = started.pid;
  };
  await start();
  log(`kafka: broker at 127.0.0.1:${port}`);
  return {
    brokers: `127.0.0.1:${port}`,
    pid: () => (pid !== undefined && isAlive(pid) ? pid : undefined),
    async stop() {
      await stopKafka({ stateDir });
      pid = undefined;
    },
    start,
  };
}

async function portsFree(port: number): Promise<boolean> {
  const free = (p: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer().once('error', () => resolve(false));
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  return (await free(port)) && (await free(port + 1));
}

// Who started the embedded PostgreSQL a process reuses. A start killed with
// SIGKILL leaves its server running; the next start reuses it, and no clean
// stop of a process that did not start it stops it. That was silent: the
// server outlived every later start, and `rm -rf .vault` would delete its data
// directory under it. Now the reuse and the exit that leaves it running say so.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

type Log = (event: string, fields?: Record<string, string | number>) => void;

/** `<dir>/started-by`: the pid of the process that started the server now running on `dir`'s cluster. */
const STARTER_FILE = 'started-by';

/** Written once this process has started the server. */
export async function recordStarter(dir: string): Promise<void> {
  await writeFile(join(dir, STARTER_FILE), `${process.pid}\n`);
}

const running = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as { code?: string }).code === 'EPERM';
  }
};

/** The starter's pid and whether it still runs; `unknown`: no record (a server started before the record was kept, or by hand). */
async function starter(dir: string): Promise<{ started_by: number | 'unknown'; starter: 'running' | 'gone' | 'unknown' }> {
  const file = join(dir, STARTER_FILE);
  const pid = existsSync(file) ? Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10) : Number.NaN;
  if (!Number.isInteger(pid) || pid <= 0) return { started_by: 'unknown', starter: 'unknown' };
  return { started_by: pid, starter: running(pid) ? 'running' : 'gone' };
}

/** The postmaster's pid, from its data directory's pid file, when it still runs. */
async function postmaster(dataDir: string): Promise<number | undefined> {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt((await readFile(file, 'utf8').catch(() => '')).split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 && running(pid) ? pid : undefined;
}

/**
 * A server this process reuses: `postgres.reused` is logged when its starter is gone (or not
 * known), and its stop, which never stops it (who stops it is unchanged), then logs
 * `postgres.left_running reason=not_started_here` with how to stop it. A server whose
 * starter still runs is that process's to stop: nothing is said.
 */
export async function reusedServer(dir: string, port: number, log: Log | undefined): Promise<{ stop: () => Promise<void> }> {
  const dataDir = join(dir, 'data');
  const before = await starter(dir);
  if (before.starter !== 'running') log?.('postgres.reused', { port, dir: dataDir, ...before });
  return {
    stop: async () => {
      const now = await starter(dir);
      if (now.starter === 'running') return;
      const pid = await postmaster(dataDir);
      if (pid === undefined) return;
      log?.('postgres.left_running', {
        port,
        reason: 'not_started_here',
        ...now,
        postmaster: pid,
        stop: `kill -INT ${pid}`,
      });
    },
  };
}

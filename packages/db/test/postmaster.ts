// The postmaster an embedded-PostgreSQL test started, seen from outside: whether it runs, its pid
// from the data directory, and stopping one a failed test left behind. runtime's tests use it too
// (@vault/runtime depends on @vault/db, never the other way).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Whether process `pid` still runs. */
export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The postmaster's pid from the data directory's pid file, or undefined when there is none. */
export async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  return Number((await readFile(file, 'utf8')).split('\n')[0]);
}

/** Waits up to 10 s for process `pid` to be gone. */
export async function gone(pid: number): Promise<void> {
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

/** A test's `finally`: the postmaster it may have left running (none: `pid` undefined) is stopped (SIGINT, a fast shutdown). */
export async function stopLeftPostmaster(pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  if (alive(pid)) process.kill(pid, 'SIGINT');
  await gone(pid);
}

// A storage format a killed `vault kafka start` left running. The StorageTool JVM is its child, not
// detached, yet outlives a SIGKILL of it: the next start (the dead one's lock taken over) formatted
// beside it with another cluster id, and failed on the meta.properties the leftover wrote.
import fs from 'node:fs';
import { logfmt, type Log } from './log.ts';
import type { StatePaths } from './paths.ts';
import { isAlive } from './process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pids of the live StorageTool runs formatting this state dir (by its config), from /proc; none without /proc. */
export function formatsRunning(paths: StatePaths): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string[];
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (cmdline.includes('kafka.tools.StorageTool') && cmdline.includes(paths.config) && isAlive(Number(entry))) pids.push(Number(entry));
  }
  return pids;
}

/** Waits (at most `timeoutMs`) for a format left running by an earlier start to end; its work stands. */
export async function awaitLeftoverFormats(paths: StatePaths, log: Log, timeoutMs = 60_000): Promise<void> {
  let pids = formatsRunning(paths);
  if (pids.length === 0) return;
  log(
    logfmt('warn', 'leftover_format_waiting', 'waiting for a storage format an earlier start left running', {
      pids: pids.join(','),
      dir: paths.dataDir,
    }),
  );
  const deadline = Date.now() + timeoutMs;
  while (pids.length > 0) {
    if (Date.now() > deadline) {
      throw new Error(
        `a storage format an earlier start left running (pid ${pids.join(', ')}) has not ended within ${timeoutMs / 1000} s; ` +
          'end it (kill), then start again',
      );
    }
    await sleep(100);
    pids = formatsRunning(paths);
  }
}

// CPU time by process from /proc (Linux), for "µs of CPU per event" per
// process: metering, PostgreSQL (the postmaster and its children, backends
// that exited included through the postmaster's reaped-children time), the
// Kafka broker and the benchmark itself.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (CLK_TCK, 100 on Linux). */
const TICKS = 100;

interface Stat {
  ppid: number;
  /** Own user + system seconds. */
  own: number;
  /** Seconds of children it has reaped. */
  children: number;
}

function stat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces: state is the first.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), own: (Number(f[11]) + Number(f[12])) / TICKS, children: (Number(f[13]) + Number(f[14])) / TICKS };
  } catch {
    return undefined;
  }
}

/** Seconds of CPU a process has used so far (0 once it is gone). */
export const processCpu = (pid: number | undefined): number => (pid === undefined ? 0 : (stat(pid)?.own ?? 0));

export interface TreeSample {
  root: number;
  rootTotal: number;
  children: Map<number, number>;
}

/** The CPU of a process and of each of its children now. */
export function sampleTree(root: number): TreeSample {
  const s = stat(root);
  const children = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const c = stat(pid);
    if (c?.ppid === root) children.set(pid, c.own);
  }
  return { root, rootTotal: (s?.own ?? 0) + (s?.children ?? 0), children };
}

/** Seconds of CPU the tree used between two samples. */
export function treeCpu(a: TreeSample, b: TreeSample): number {
  let total = b.rootTotal - a.rootTotal;
  for (const [pid, cpu] of b.children) total += cpu - (a.children.get(pid) ?? 0);
  // A child that exited meanwhile moved all its time into the root's reaped time.
  for (const [pid, cpu] of a.children) if (!b.children.has(pid)) total -= cpu;
  return total;
}

/** The postmaster's pid, when PostgreSQL runs on this machine (a backend's parent). */
export function postmasterOf(backendPid: number): number | undefined {
  return stat(backendPid)?.ppid;
}

// CPU time by process from /proc (Linux), for "µs of CPU per event" per
// process: metering, PostgreSQL (the postmaster and its children, backends
// that exited included through the postmaster's reaped-children time), the
// Kafka broker and the benchmark itself.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

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
  /** Each child's role, from its title (PostgreSQL's `postgres: walwriter`, a backend's `postgres: user db …`). */
  roles: Map<number, string>;
}

/** The CPU of a process and of each of its children now. */
export function sampleTree(root: number): TreeSample {
  const s = stat(root);
  const children = new Map<number, number>();
  const roles = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const c = stat(pid);
    if (c?.ppid !== root) continue;
    children.set(pid, c.own);
    roles.set(pid, roleOf(pid));
  }
  return { root, rootTotal: (s?.own ?? 0) + (s?.children ?? 0), children, roles };
}

/** PostgreSQL's auxiliary processes by title; anything else is a client backend. */
const AUXILIARY = [
  'walwriter',
  'checkpointer',
  'background writer',
  'autovacuum launcher',
  'autovacuum worker',
  'io worker',
  'walsummarizer',
];

function roleOf(pid: number): string {
  let title = '';
  try {
    title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return 'backends';
  }
  return AUXILIARY.find((r) => title.includes(r)) ?? 'backends';
}

/**
 * Seconds of CPU the tree used between two samples by role: the children
 * alive at the end by their title; the root's own and that of those that
 * exited meanwhile (reaped by it: autovacuum workers, mostly) together.
 */
export function treeCpuByRole(a: TreeSample, b: TreeSample): Map<string, number> {
  const by = new Map<string, number>();
  const add = (role: string, seconds: number) => by.set(role, (by.get(role) ?? 0) + seconds);
  let exited = b.rootTotal - a.rootTotal;
  for (const [pid, cpu] of b.children) add(b.roles.get(pid) ?? 'backends', cpu - (a.children.get(pid) ?? 0));
  for (const [pid, cpu] of a.children) if (!b.children.has(pid)) exited -= cpu;
  add('postmaster and exited', exited);
  return by;
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

/** The whole machine's CPU ticks so far (/proc/stat's first line). */
export interface MachineSample {
  busy: number;
  iowait: number;
  /** Taken by the hypervisor for others. */
  steal: number;
  total: number;
}

export function machineCpu(): MachineSample {
  const t = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const [user = 0, nice = 0, system = 0, , iowait = 0, irq = 0, softirq = 0, steal = 0] = t;
  return { busy: user + nice + system + irq + softirq, iowait, steal, total: t.reduce((a, b) => a + b, 0) };
}

/** Between two samples: how many cores were busy, and the shares of all time waiting on I/O and stolen. */
export function machineUse(a: MachineSample, b: MachineSample): { coresBusy: number; cores: number; iowait: number; steal: number } {
  const total = b.total - a.total || 1;
  const cores = availableParallelism();
  return {
    coresBusy: ((b.busy - a.busy) / total) * cores,
    cores,
    iowait: (b.iowait - a.iowait) / total,
    steal: (b.steal - a.steal) / total,
  };
}

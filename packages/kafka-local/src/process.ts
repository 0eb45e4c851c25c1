// The broker JVM as an OS process: launch detached, track by pidfile, stop by process group.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { StatePaths } from './paths.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function jvmArgs(paths: StatePaths, classpath: string, main: string[]): string[] {
  return [
    '-Xms256m',
    '-Xmx512m',
    // Same GC tuning as Kafka's own kafka-server-start.sh.
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${paths.log4j}`,
    '-cp',
    classpath, // `<lib>/*`: the JVM expands the wildcard itself, no shell involved.
    ...main,
  ];
}

/** Run a short-lived command (mvn, StorageTool) to completion, collecting its output for error messages. */
export function runCommand(cmd: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

/** Start the broker in its own process group so it outlives us and can be stopped as a unit. */
export function spawnDetached(args: string[], paths: StatePaths): number {
  const out = fs.openSync(paths.stdoutLog, 'a');
  try {
    const child = spawn('java', args, { cwd: paths.dir, detached: true, stdio: ['ignore', out, out] });
    if (child.pid === undefined) throw new Error('failed to spawn java');
    child.on('error', () => {}); // spawn errors surface as the pid dying; don't crash the caller
    child.unref();
    fs.writeFileSync(paths.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    fs.closeSync(out);
  }
}

export function readPid(paths: StatePaths): number | undefined {
  try {
    const pid = Number(fs.readFileSync(paths.pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function removePidFile(paths: StatePaths): void {
  fs.rmSync(paths.pidFile, { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still answers kill(0) until its parent reaps it; it is dead for our purposes.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

/** Guard against pid reuse: the live pid must be a JVM running this state dir's config. */
export function isOurBroker(pid: number, paths: StatePaths): boolean {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes('kafka.Kafka') && cmdline.includes(paths.config);
  } catch {
    return true; // no /proc: best effort
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

async function waitDead(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(200);
  }
  return !isAlive(pid);
}

/** SIGTERM the group (Kafka shuts down cleanly on it), SIGKILL if it lingers. */
export async function stopGroup(pid: number, graceMs = 30_000): Promise<'terminated' | 'killed'> {
  killGroup(pid, 'SIGTERM');
  if (await waitDead(pid, graceMs)) return 'terminated';
  killGroup(pid, 'SIGKILL');
  await waitDead(pid, 5_000);
  return 'killed';
}

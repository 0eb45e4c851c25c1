import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { eventually, freePort } from '@vault/testkit';
import { METERING_NODE_FLAGS } from '../src/node-flags.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface MeteringProcess {
  child: ChildProcess;
  /** Where its HTTP API listens. */
  port: number;
  /** `batch.applied` lines so far, oldest first. */
  batches: string[];
  /** performance.now() when the first batch was fetched, once one was. */
  firstBatchAt(): number | undefined;
  /** Peak resident set size so far, bytes (Linux VmHWM). */
  peakRss(): number;
  /**
   * Polls `check` until it holds. Fails at once, with the process's last
   * output, if the process ends first: a waiting caller never waits forever.
   */
  until(what: string, check: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/**
 * The real metering process (`vault start metering` runs the same file), for
 * the benchmark and the SIGKILL test. Error lines are echoed to stderr.
 */
export async function spawnMetering(env: Record<string, string>): Promise<MeteringProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...METERING_NODE_FLAGS, '--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: { ...process.env, ADMIN_TOKEN: 'bench-admin-token-0123456789abcdef', ...env, METERING_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const batches: string[] = [];
  const tail: string[] = [];
  let first: number | undefined;
  let exit: string | undefined;
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      if (line.includes('event=batch.applied')) {
        batches.push(line);
        const applyMs = Number(/measure#metering.apply_time=([\d.]+)ms/.exec(line)?.[1] ?? 0);
        first ??= performance.now() - applyMs;
      }
      if (line.includes('at=error')) process.stderr.write(`metering: ${line}\n`);
      tail.push(line);
      if (tail.length > 20) tail.shift();
    });
  }
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = signal ?? `exit status ${code}`;
      resolve();
    }),
  );
  return {
    child,
    port,
    batches,
    firstBatchAt: () => first,
    peakRss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
    until: (what, check, timeoutMs = Infinity) =>
      eventually(
        what,
        () => {
          if (exit !== undefined)
            throw new Error(`metering process ended (${exit}) while waiting for ${what}; its last output:\n${tail.join('\n')}`);
          return check();
        },
        timeoutMs,
      ),
    kill: async (signal) => {
      child.kill(signal);
      await exited;
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface MeteringProcess {
  child: ChildProcess;
  /** performance.now() when the first batch was fetched, once one was. */
  firstBatchAt(): number | undefined;
  /** Peak resident set size so far, bytes (Linux VmHWM). */
  peakRss(): number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** The real metering process (`vault start metering` runs the same file). */
export async function spawnMetering(env: Record<string, string>): Promise<MeteringProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: { ...process.env, ...env, METERING_PORT: String(port), ADMIN_TOKEN: 'bench' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let first: number | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (first === undefined && line.includes('event=batch.applied')) {
      const applyMs = Number(/measure#metering.apply_time=([\d.]+)ms/.exec(line)?.[1] ?? 0);
      first = performance.now() - applyMs;
    }
    if (line.includes('at=error')) process.stderr.write(`metering: ${line}\n`);
  });
  return {
    child,
    firstBatchAt: () => first,
    peakRss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

// One of the apps as a real process (`node services/<app>/src/main.ts`), for
// end-to-end tests: its stdout kept line by line, killed with any signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));

export interface RunningService {
  /** http://localhost:<port> once it listens. */
  url: string;
  /** Every line it printed so far, stdout and stderr. */
  lines: string[];
  child: ChildProcess;
  /** SIGKILL (crash) or SIGTERM (graceful); resolves when the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Appends every complete line `child` prints, stdout and stderr, to `lines`. */
export function collectLines(child: ChildProcess, lines: string[]): void {
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
    });
  }
}

/**
 * Starts `services/<app>/src/main.ts` with `env` over the test's own
 * environment and waits for its `event=app.listening` line.
 */
export async function startService(app: string, env: Record<string, string>, timeoutMs = 60_000): Promise<RunningService> {
  const child = spawn(process.execPath, ['--import', 'tsx', `services/${app}/src/main.ts`], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let exited = false;
  const gone = new Promise<void>((resolve) => child.on('exit', () => ((exited = true), resolve())));
  collectLines(child, lines);
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (!exited) child.kill(signal);
    await gone;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listening = lines.find((l) => l.includes('event=app.listening'));
    const url = listening ? /\burl=(\S+)/.exec(listening)?.[1] : undefined;
    if (url) return { url: url.replace('127.0.0.1', 'localhost'), lines, child, kill };
    if (exited || Date.now() > deadline) {
      await kill();
      throw new Error(`${app} did not start${exited ? ' (it exited)' : ''}:\n${lines.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts the apps at once. If one does not start, those that did are killed
 * before the error is thrown: a caller's `after` never learns of them, and a
 * child left running keeps the test process (and the whole run) from ending.
 */
export async function startServices(apps: readonly (readonly [app: string, env: Record<string, string>])[]): Promise<RunningService[]> {
  const settled = await Promise.allSettled(apps.map(([app, env]) => startService(app, env)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.kill() : undefined)));
    throw failed.reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<RunningService>).value);
}

export interface ExitedService {
  /** The exit status (null when killed by a signal). */
  status: number | null;
  /** Every line it printed, stdout and stderr. */
  lines: string[];
  /** From spawn to exit. */
  ms: number;
}

/**
 * Runs `services/<app>/src/main.ts` with `env` until it exits on its own (a
 * boot that must fail); killed and rejected after `timeoutMs`.
 */
export function bootToExit(app: string, env: Record<string, string>, timeoutMs = 30_000): Promise<ExitedService> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', `services/${app}/src/main.ts`], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  collectLines(child, lines);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${app} did not exit within ${timeoutMs} ms:\n${lines.join('\n')}`));
    }, timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, lines: lines.filter(Boolean), ms: Date.now() - started });
    });
  });
}

// `vault kafka start` as a child process, for the tests of a start ended early.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `vault kafka start`; `onLine` sees each line of its stdout as it comes. */
export function kafkaStart(env: NodeJS.ProcessEnv, onLine: (line: string) => void) {
  const child = spawn(process.execPath, ['bin/vault.js', 'kafka', 'start'], { cwd: ROOT, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const lines = (stdout.slice(stdout.lastIndexOf('\n') + 1) + d).split('\n').slice(0, -1);
    stdout += d;
    for (const line of lines) onLine(line);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, ended };
}

/** Waits until `check` holds, failing the test by `what` after `ms`. */
export const until = async (what: string, check: () => boolean, ms = 10_000) => {
  for (const deadline = Date.now() + ms; !check(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
  }
};

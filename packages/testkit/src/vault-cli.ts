// The `vault` command as a person runs it (bin/vault.js from the repository's
// root), for end-to-end tests of the CLI.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));

export interface VaultRun {
  /** The exit status; null when a signal ended it. */
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface VaultRunOptions {
  /** The working directory (where `.env` and a relative VAULT_HOME are found); the repository's root by default. */
  cwd?: string;
}

/**
 * `vault ...args` with `env` over the test's environment, `input` (or
 * nothing) on its stdin; resolves when it exits. Asynchronous, so several can
 * run at once and the test's own pool keeps working meanwhile.
 */
export function vault(args: string[], env: NodeJS.ProcessEnv = {}, input = '', options: VaultRunOptions = {}): Promise<VaultRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${root}bin/vault.js`, ...args], { cwd: options.cwd ?? root, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    // A command that exits without reading its stdin must not fail the run (EPIPE).
    child.stdin.on('error', () => {}).end(input);
  });
}

// `vault kafka start | head -1`: its stdout's reader gone while the broker starts. It exited 1 at
// the failed write, `stdout was closed`, leaving a broker it had just spawned starting (or its
// storage being formatted) that nobody was told of. Now the start goes on, and once the broker
// answers, what it printed in vain (KAFKA_BROKERS) is said on stderr, exit 1. A real broker.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { freePort, vault } from '@vault/testkit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `vault ...args` whose stdout's reader goes away once it has read the first line. */
async function readOneLine(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; first: string; stderr: string }> {
  const child = spawn(process.execPath, ['bin/vault.js', ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let first = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    first += d;
    if (first.includes('\n')) child.stdout.destroy();
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, first: first.split('\n')[0]!, stderr };
}

test('`vault kafka start` whose stdout is closed while it starts: the broker it started answers, KAFKA_BROKERS is said on stderr, exit 1', {
  timeout: 180_000,
}, async () => {
  const home = mkdtempSync(join(tmpdir(), 'vault-kafka-closed-'));
  const port = await freePort();
  const env = { VAULT_HOME: home, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(await freePort()) };
  try {
    const r = await readOneLine(['kafka', 'start'], env);
    assert.match(r.first, /event=kafka\./);
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /node:events|Unhandled 'error' event|^\s+at /m, r.stderr);
    assert.match(r.stderr, /^vault kafka start: stdout was closed; what it printed:\n/, r.stderr);
    assert.match(r.stderr, new RegExp(`^  KAFKA_BROKERS=127\\.0\\.0\\.1:${port}$`, 'm'), r.stderr);
    // Ready when the command ended, not left starting.
    const status = await vault(['kafka', 'status'], env);
    assert.equal(status.status, 0, status.stdout + status.stderr);
    assert.match(status.stdout, new RegExp(`^KAFKA_BROKERS=127\\.0\\.0\\.1:${port}$`, 'm'));
  } finally {
    await vault(['kafka', 'stop'], env);
    rmSync(home, { recursive: true, force: true });
  }
});

// A server a killed start left running is reused by the next start, never
// stopped by it (that is unchanged): the reuse and the clean exit that leaves it
// running say so, with its starter gone and how to stop it (R1: an orphan
// postgres outlived every later clean stop, silently).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '@vault/testkit';
import { openDatabase } from '../src/index.ts';
import { alive, gone, postmasterPid, stopLeftPostmaster } from './postmaster.ts';

const embedded = fileURLToPath(new URL('../src/embedded.ts', import.meta.url));

/** A process that starts the server on `dir`, says `ready`, and waits to be killed. */
async function startAndWait(dir: string, port: number): Promise<number> {
  const script = `import { ensureEmbeddedPostgres } from ${JSON.stringify(embedded)};
await ensureEmbeddedPostgres({ dir: ${JSON.stringify(dir)}, port: ${port} });
console.log('ready');
setInterval(() => {}, 60_000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`the starter exited (${code}) before the server was ready`)));
  });
  return child.pid!;
}

describe('embedded PostgreSQL reused from a start that was killed', () => {
  test('the reuse logs postgres.reused with its starter gone; a clean exit logs postgres.left_running reason=not_started_here and how to stop it', {
    timeout: 180_000,
  }, async () => {
    const [port, home] = [await freePort(), await mkdtemp(join(tmpdir(), 'vault-reused-'))];
    await chmod(home, 0o755);
    const dataDir = join(home, 'postgres', 'data');
    let server: number | undefined;
    try {
      const starter = await startAndWait(join(home, 'postgres'), port);
      server = await postmasterPid(dataDir);
      process.kill(starter, 'SIGKILL');
      await gone(starter);
      assert.ok(server !== undefined && alive(server), 'the killed start left its server running');

      const events: string[] = [];
      const db = await openDatabase({
        home,
        embeddedPort: port,
        log: (event, fields) => events.push(`${event} ${JSON.stringify(fields)}`),
      });
      const reused = events.find((e) => e.startsWith('postgres.reused '));
      assert.ok(reused, events.join('\n'));
      assert.deepEqual(JSON.parse(reused.slice('postgres.reused '.length)), { port, dir: dataDir, started_by: starter, starter: 'gone' });
      await db.close();
      assert.ok(alive(server), 'who stops it is unchanged: a process that did not start it leaves it running');
      const left = events.find((e) => e.startsWith('postgres.left_running '));
      assert.ok(left, events.join('\n'));
      assert.deepEqual(JSON.parse(left.slice('postgres.left_running '.length)), {
        port,
        reason: 'not_started_here',
        started_by: starter,
        starter: 'gone',
        postmaster: server,
        stop: `kill -INT ${server}`,
      });
    } finally {
      await stopLeftPostmaster(server);
      await rm(home, { recursive: true, force: true });
    }
  });
});

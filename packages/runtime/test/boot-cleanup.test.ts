// An app whose boot fails after it opened the database (a migration failing) stops the
// embedded PostgreSQL it started before it exits: nobody else held it, and it ran on
// after the process, on its port and data directory, until someone found it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { freePort } from '@vault/testkit';
import { alive, postmasterPid, stopLeftPostmaster } from '../../db/test/postmaster.ts';

const APP = fileURLToPath(new URL('./fixtures/failing-migration-app.ts', import.meta.url));

for (const [failAt, line] of [
  ['migration', /event=boot\.failed/],
  ['listen', /event=boot\.failed.*variable=EMBEDDED_PG_PORT/],
] as const) {
  test(`boot failing at its ${failAt}: exit 1, one boot.failed line, and no postmaster left on the embedded data directory`, {
    timeout: 180_000,
  }, async () => {
    const home = await mkdtemp(join(tmpdir(), 'vault-boot-cleanup-'));
    // Run as root, the server runs as `postgres`, which must reach the directory.
    await chmod(home, 0o755);
    const dataDir = join(home, 'postgres', 'data');
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      VAULT_HOME: home,
      EMBEDDED_PG_PORT: String(await freePort()),
      FAIL_AT: failAt,
    };
    let pid: number | undefined;
    try {
      // Its own directory as cwd: the repository's .env is not read.
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), APP], {
        cwd: home,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 1, output);
      assert.match(output, /postgres\.started/, 'the embedded server was started by this boot');
      assert.match(output, line, output);
      pid = await postmasterPid(dataDir);
      assert.equal(pid, undefined, `no postmaster.pid left (pid ${pid} ${pid !== undefined && alive(pid) ? 'running' : 'gone'})`);
    } finally {
      await stopLeftPostmaster(pid);
      await rm(home, { recursive: true, force: true });
    }
  });
}

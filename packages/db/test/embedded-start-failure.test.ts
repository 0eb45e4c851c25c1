// A start of the embedded PostgreSQL whose next step fails (creating the `vault`
// database, connecting for it) stops the server it started: nobody holds a handle
// to it, so it ran on after the command exited, on its port and data directory.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { freePort } from '@vault/testkit';
import { embeddedUrl, ensureEmbeddedPostgres, openDatabase } from '../src/index.ts';
import { alive, postmasterPid, stopLeftPostmaster } from './postmaster.ts';

/** Whether anything accepts a TCP connection on the port. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createServer().listen(port, '127.0.0.1');
    socket.once('listening', () => socket.close(() => resolve(false)));
    socket.once('error', () => resolve(true));
  });

test('a start whose database creation fails stops the server it started: no postmaster left on the data directory or the port', {
  timeout: 180_000,
}, async () => {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'vault-embedded-fail-'));
  // Run as root, the server runs as `postgres`, which must reach the directory.
  await chmod(dir, 0o755);
  const dataDir = join(dir, 'data');
  let pid: number | undefined;
  try {
    // A cluster whose `postgres` database takes no connections: creating `vault` (which connects
    // to it) fails once the server has started. `vault` is dropped so that it must be created.
    const first = await ensureEmbeddedPostgres({ dir, port, fast: true });
    const admin = new pg.Client({ connectionString: embeddedUrl(port, 'template1'), ssl: false });
    await admin.connect();
    await admin.query('drop database vault');
    await admin.query('alter database postgres allow_connections false');
    await admin.end();
    await first.stop({ force: true });
    assert.equal(await postmasterPid(dataDir), undefined, 'the first server stopped');

    await assert.rejects(ensureEmbeddedPostgres({ dir, port, fast: true }), /not currently accepting connections/);
    pid = await postmasterPid(dataDir);
    assert.equal(pid, undefined, `no postmaster.pid left (pid ${pid} ${pid !== undefined && alive(pid) ? 'running' : 'gone'})`);
    assert.equal(await listening(port), false, `nothing listens on ${port}`);
  } finally {
    await stopLeftPostmaster(pid);
    await rm(dir, { recursive: true, force: true });
  }
});

test('openDatabase failing after it started the server (a session setting it refuses) stops that server', {
  timeout: 180_000,
}, async () => {
  const port = await freePort();
  const home = await mkdtemp(join(tmpdir(), 'vault-embedded-fail-'));
  await chmod(home, 0o755);
  const dataDir = join(home, 'postgres', 'data');
  let pid: number | undefined;
  try {
    await assert.rejects(openDatabase({ home, embeddedPort: port, sessionSettings: { jit: 'off; drop' } }), /unsupported characters/);
    pid = await postmasterPid(dataDir);
    assert.equal(pid, undefined, `no postmaster.pid left (pid ${pid} ${pid !== undefined && alive(pid) ? 'running' : 'gone'})`);
    assert.equal(await listening(port), false, `nothing listens on ${port}`);
  } finally {
    await stopLeftPostmaster(pid);
    await rm(home, { recursive: true, force: true });
  }
});

// A start of the embedded PostgreSQL whose next step fails (creating the `vault`
// database, connecting for it) stops the server it started: nobody holds a handle
// to it, so it ran on after the command exited, on its port and data directory.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { embeddedUrl, ensureEmbeddedPostgres, openDatabase } from '../src/index.ts';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The postmaster's pid from the data directory's pid file, or undefined when there is none. */
async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  return Number((await readFile(file, 'utf8')).split('\n')[0]);
}

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
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGINT');
    for (let i = 0; i < 200 && pid !== undefined && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
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
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGINT');
    for (let i = 0; i < 200 && pid !== undefined && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    await rm(home, { recursive: true, force: true });
  }
});

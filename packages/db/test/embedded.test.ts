// The embedded PostgreSQL that `vault start` and the tests run: a start that
// fails says where and why (the package itself rejects with nothing).
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { freePort } from '@vault/testkit';
import { ensureEmbeddedPostgres, openDatabase } from '../src/index.ts';
import { gone, alive as processAlive, stopLeftPostmaster } from './postmaster.ts';

/** The postmaster of the cluster in `dataDir`: its pid, and whether it still runs. */
async function postmaster(dataDir: string) {
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  return { pid, alive: () => processAlive(pid) };
}

describe('embedded PostgreSQL (a real server)', () => {
  test('closing the database that started it leaves it running while one that reused it is still in use, and stops it once none is', {
    timeout: 120_000,
  }, async () => {
    const [port, home] = [await freePort(), await mkdtemp(join(tmpdir(), 'vault-embedded-'))];
    await chmod(home, 0o755);
    const events: string[] = [];
    const open = () =>
      openDatabase({ home, embeddedPort: port, log: (event, fields) => events.push(`${event} ${JSON.stringify(fields)}`) });
    let server: Awaited<ReturnType<typeof postmaster>> | undefined;
    try {
      // The last user gone (B closes first): A, which started it, stops it.
      let [a, b] = [await open(), await open()];
      server = await postmaster(join(home, 'postgres', 'data'));
      await b.pool.query('select 1');
      await b.close();
      await a.close();
      assert.equal(server.alive(), false, 'stopped with no one left on it');

      // `vault publish` (A) started it, `npm start` (B) reused it, and A ends first.
      [a, b] = [await open(), await open()];
      server = await postmaster(join(home, 'postgres', 'data'));
      await b.pool.query('select 1');
      await a.close();
      assert.equal(server.alive(), true, 'left running');
      assert.deepEqual((await b.pool.query('select 1 as one')).rows, [{ one: 1 }]);
      assert.ok(
        events.some((e) => e.startsWith('postgres.left_running') && e.includes('"other_clients":1')),
        events.join('\n'),
      );
      await b.close();
    } finally {
      await stopLeftPostmaster(server?.pid);
      await rm(home, { recursive: true, force: true });
    }
  });

  test("stop() returns when the server has already exited: a terminal's Ctrl-C reaches the whole process group, the server included (vault start hung, then exited 13)", {
    timeout: 120_000,
  }, async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'vault-embedded-'));
    await chmod(dir, 0o755);
    try {
      const server = await ensureEmbeddedPostgres({ dir, port, fast: true });
      assert.equal(server.startedHere, true);
      // The postmaster, as the terminal signals it: SIGINT, a fast shutdown.
      const { pid, alive } = await postmaster(join(dir, 'data'));
      process.kill(pid, 'SIGINT');
      await gone(pid);
      assert.equal(alive(), false, 'the server stopped on its signal');
      await new Promise((r) => setTimeout(r, 200));
      const stopped = await Promise.race([server.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('hung'), 5_000))]);
      assert.equal(stopped, 'stopped');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('on a port another program holds, the start fails naming the port, the data directory and what the server said', {
    timeout: 120_000,
  }, async () => {
    // Accepts and hangs up: not a PostgreSQL that answers, and the port is taken.
    const holder = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    const dir = await mkdtemp(join(tmpdir(), 'vault-embedded-'));
    // Run as root, the server runs as `postgres`, which must reach the directory.
    await chmod(dir, 0o755);
    try {
      await assert.rejects(ensureEmbeddedPostgres({ dir, port, fast: true }), (err: unknown) => {
        assert.ok(err instanceof Error, 'an Error, not nothing');
        assert.match(err.message, new RegExp(`did not start on 127\\.0\\.0\\.1:${port} \\(data directory ${join(dir, 'data')}\\)`));
        assert.match(err.message, /could not (bind|create)/i, `the server's own words: ${err.message}`);
        return true;
      });
    } finally {
      holder.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// The embedded PostgreSQL after a process was killed at the wrong moment, on a
// real server: the next ensureEmbeddedPostgres repairs what was left.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { type EmbeddedServer, embeddedUrl, ensureEmbeddedPostgres, INITIALISED_MARKER } from '../src/index.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A folder the server, run as `postgres` when we are root, can reach. */
async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vault-embedded-'));
  await chmod(dir, 0o755);
  return dir;
}

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

async function withCluster(fn: (dir: string, port: number, servers: EmbeddedServer[]) => Promise<void>): Promise<void> {
  const dir = await folder();
  const port = await freePort();
  const servers: EmbeddedServer[] = [];
  try {
    await fn(dir, port, servers);
  } finally {
    for (const server of servers) await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('embedded PostgreSQL after a kill at the wrong moment (a real server)', () => {
  test(
    'a server left running without the vault database (killed before creating it) is reused, and the database created',
    {
      timeout: 120_000,
    },
    () =>
      withCluster(async (dir, port, servers) => {
        const first = await ensureEmbeddedPostgres({ dir, port, fast: true });
        servers.push(first);
        assert.equal(first.startedHere, true);
        await query(embeddedUrl(port, 'postgres'), 'drop database vault');

        const again = await ensureEmbeddedPostgres({ dir, port, fast: true });
        assert.equal(again.startedHere, false, 'the running server is reused, not started a second time');
        assert.deepEqual((await query(again.url, 'select current_database() as db')).rows, [{ db: 'vault' }]);
      }),
  );

  test(
    'a data directory whose initdb did not finish (PG_VERSION but no marker) is initialised again',
    {
      timeout: 120_000,
    },
    () =>
      withCluster(async (dir, port, servers) => {
        // initdb writes PG_VERSION among its first files.
        await mkdir(join(dir, 'data', 'base'), { recursive: true });
        await writeFile(join(dir, 'data', 'PG_VERSION'), '18\n');

        const server = await ensureEmbeddedPostgres({ dir, port, fast: true });
        servers.push(server);
        assert.equal(server.startedHere, true);
        assert.ok(existsSync(join(dir, 'data', INITIALISED_MARKER)), 'marked once initdb finished');
        assert.equal((await query(server.url, 'select 1 as one')).rows[0]?.one, 1);
        // The unfinished directory was moved aside, never deleted.
        assert.ok((await readdir(dir)).some((name) => name.startsWith('data.unfinished-')));
      }),
  );

  test(
    'a cluster a server has run on, made before the marker existed, is kept with its data',
    {
      timeout: 120_000,
    },
    () =>
      withCluster(async (dir, port, servers) => {
        const first = await ensureEmbeddedPostgres({ dir, port, fast: true });
        await query(first.url, "create table kept as select 'still here' as note");
        await first.stop();
        await rm(join(dir, 'data', INITIALISED_MARKER));

        const again = await ensureEmbeddedPostgres({ dir, port, fast: true });
        servers.push(again);
        assert.equal(again.startedHere, true);
        assert.deepEqual((await query(again.url, 'select note from kept')).rows, [{ note: 'still here' }]);
        assert.ok(existsSync(join(dir, 'data', INITIALISED_MARKER)), 'marked now: kept even once postmaster.opts is gone');
      }),
  );

  test(
    'apps starting at once on a new directory: one initialises and starts it, the others reuse it',
    {
      timeout: 120_000,
    },
    () =>
      withCluster(async (dir, port, servers) => {
        const all = await Promise.all(Array.from({ length: 4 }, () => ensureEmbeddedPostgres({ dir, port, fast: true })));
        servers.push(...all);
        assert.equal(all.filter((s) => s.startedHere).length, 1);
        for (const server of all) assert.equal((await query(server.url, 'select 1 as one')).rows[0]?.one, 1);
      }),
  );
});

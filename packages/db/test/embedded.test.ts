// The embedded PostgreSQL that `vault start` and the tests run: a start that
// fails says where and why (the package itself rejects with nothing).
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ensureEmbeddedPostgres } from '../src/index.ts';

describe('embedded PostgreSQL (a real server)', () => {
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

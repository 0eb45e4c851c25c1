// The database must answer within 5 s at boot (apps and the vault command); a
// server that takes the connection and never says a word is a BootError naming
// DATABASE_URL within about that, never a hang: closing the pool after it used
// to wait for that connection.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { openReachableDatabase } from '../src/index.ts';

describe('the database probe at boot', () => {
  test('a server that accepts and never answers is an error naming DATABASE_URL within seconds', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const started = performance.now();
    try {
      await assert.rejects(
        openReachableDatabase(
          { DATABASE_URL: `postgres://vault:secret@127.0.0.1:${port}/vault`, VAULT_HOME: '.vault', EMBEDDED_PG_PORT: 1 },
          () => {},
        ),
        (err: Error & { variable?: string }) => {
          assert.equal(err.variable, 'DATABASE_URL');
          assert.doesNotMatch(err.message, /secret/);
          return true;
        },
      );
      const ms = performance.now() - started;
      assert.ok(ms < 7_500, `answered after ${ms.toFixed(0)} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});

// A pool whose NEW connection does not come up within connectionTimeoutMillis (a server slow to accept,
// a restart or failover under way) fails with pg-pool's "Connection terminated due to connection
// timeout", not "timeout exceeded when trying to connect". runtime knew only the second, so every app
// answered the first a 500 "internal error" (the 500 page to a browser) where it meant the busy 503.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { openPool } from '@vault/db';
import { createHttpApp, databaseBusy, memoryLogger, poolTimeout } from '../src/index.ts';

/** A port that accepts connections and never says a word: a PostgreSQL that does not come up. */
let silent: Server;
let port: number;
const sockets: Socket[] = [];

before(async () => {
  silent = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  port = (silent.address() as AddressInfo).port;
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

const silentPool = () => openPool(`postgres://nobody:nothing@127.0.0.1:${port}/none`, { max: 1, connectionTimeoutMs: 300 });

describe('poolTimeout: a new connection that does not come up within the pool’s connection timeout', () => {
  test('pg-pool’s "Connection terminated due to connection timeout" is a pool timeout, and so the database busy', async () => {
    const pool = silentPool();
    try {
      const err = await pool.query('select 1').then(
        () => assert.fail('a port that never answers gave a session'),
        (e: unknown) => e,
      );
      assert.equal((err as Error).message, 'Connection terminated due to connection timeout');
      assert.equal(poolTimeout(err), true);
      assert.equal(databaseBusy(err), true);
      assert.equal(poolTimeout(new Error('timeout exceeded when trying to connect')), true, 'the wait for a busy pool still is');
      assert.equal(poolTimeout(new Error('Connection terminated unexpectedly')), false, 'a session ended is not a pool timeout');
    } finally {
      await pool.end();
    }
  });

  test('a request meeting it is the busy 503 with Retry-After, logged http.database_busy, never a 500', async () => {
    const pool = silentPool();
    const log = memoryLogger();
    const app = createHttpApp(log);
    app.get('/one', async () => (await pool.query<{ one: number }>('select 1 as one')).rows[0]);
    try {
      const answer = await app.inject({ method: 'GET', url: '/one' });
      assert.equal(answer.statusCode, 503, answer.body);
      assert.equal(answer.headers['retry-after'], '5');
      assert.deepEqual(answer.json(), { error: 'the database is busy: try again in a few seconds' });
      const logged = log.lines.join('\n');
      assert.match(logged, /at=warn event=http\.database_busy path=\/one/);
      assert.doesNotMatch(logged, /event=http\.error/);
    } finally {
      await app.close();
      await pool.end();
    }
  });
});

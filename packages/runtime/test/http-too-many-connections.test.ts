// PostgreSQL at its connection limit refuses a new session with 53300 ("too many clients"):
// a request that needed one is busy for now, a 503 with Retry-After like a pool that waited in
// vain, never a 500 with a stack. A role with CONNECTION LIMIT 0 gets the very same refusal.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openPool } from '@vault/db';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { createHttpApp, memoryLogger } from '../src/index.ts';

describe('createHttpApp: PostgreSQL refusing a session at its connection limit (53300)', () => {
  let db: TestDatabase;
  const role = `full_${process.pid}`;
  before(async () => {
    db = await freshDatabase();
    await db.pool.query(`create role ${role} login password 'full' connection limit 0`);
  });
  after(async () => {
    await db.pool.query(`drop role if exists ${role}`).catch(() => {});
    await db.drop();
  });

  test('is a 503 with Retry-After, logged as http.database_busy at warn, no http.error', async () => {
    const url = new URL(db.url);
    url.username = role;
    url.password = 'full';
    const pool = openPool(url.toString(), { max: 1 });
    const log = memoryLogger();
    const app = createHttpApp(log);
    app.get('/one', async () => (await pool.query<{ one: number }>('select 1 as one')).rows[0]);
    try {
      const refused = await pool.query('select 1').then(
        () => undefined,
        (err: { code?: string }) => err.code,
      );
      assert.equal(refused, '53300', 'the server refuses the session as too many connections');
      const busy = await app.inject({ method: 'GET', url: '/one' });
      assert.equal(busy.statusCode, 503, busy.body);
      assert.equal(busy.headers['retry-after'], '5');
      assert.deepEqual(busy.json(), { error: 'the database is busy: try again in a few seconds' });
      assert.ok(
        log.lines.some((l) => /at=warn event=http\.database_busy path=\/one reason=too_many_connections/.test(l)),
        log.lines.join('\n'),
      );
      assert.ok(!log.lines.some((l) => /event=http\.error|at=error/.test(l)), log.lines.join('\n'));
    } finally {
      await app.close();
      await pool.end();
    }
  });
});

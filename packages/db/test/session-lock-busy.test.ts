// Per-caller waits for a session lock (real PostgreSQL, the lock held by a session of its own):
// vault finalize and vault archive wait without a bound for a long run to end (waitMs Infinity); an
// app loop's pass gives up after its bound, said at info (LockBusy), and at warn once the lock has
// been held past a long while over consecutive passes, so a stuck session stays visible.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { LockBusy, withSessionLock } from '../src/index.ts';

describe("session lock waits of each caller's own (real PostgreSQL)", () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('session_lock_busy');
  });
  after(() => db.drop());

  async function holding(key: number): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: db.url, application_name: 'long-run' });
    await client.connect();
    await client.query('select pg_advisory_lock($1)', [key]);
    return client;
  }

  test("waitMs Infinity waits for the run to end, whatever the role's lock_timeout, then runs", { timeout: 30_000 }, async () => {
    // A role or database setting would otherwise cut the wait short.
    const dbName = new URL(db.url).pathname.slice(1);
    await db.pool.query(`alter database "${dbName}" set lock_timeout = '100ms'`);
    const pool = new pg.Pool({ connectionString: db.url });
    const run = await holding(4646);
    try {
      const started = Date.now();
      const releasing = new Promise((r) => setTimeout(r, 800)).then(() => run.end());
      assert.equal(await withSessionLock(pool, 4646, async () => 'ran', { waitMs: Number.POSITIVE_INFINITY }), 'ran');
      await releasing;
      assert.ok(Date.now() - started >= 750, 'waited for the run to end');
    } finally {
      await run.end().catch(() => {});
      await pool.end();
      await db.pool.query(`alter database "${dbName}" reset lock_timeout`);
    }
  });

  test('a loop pass timed out: info, "another pass is running"; held past stuckAfterMs over passes: warn; a pass that runs starts over', {
    timeout: 30_000,
  }, async () => {
    const said: { level: string; event: string; fields?: Record<string, string> }[] = [];
    const log = {
      info: (event: string, fields?: Record<string, string>) => said.push({ level: 'info', event, fields }),
      warn: (event: string, fields?: Record<string, string>) => said.push({ level: 'warn', event, fields }),
    };
    // The clock at each timeout, so the levels do not hang on how long a loaded machine takes: held 0.2 s
    // (the wait), 0.3 s, then 0.6 s, past 0.5 s.
    const clock = [1_000, 1_100, 1_400];
    const busy = new LockBusy(log, 'test.pass_skipped', 500, () => clock.shift() ?? 2_000);
    const pass = () => withSessionLock(db.pool, 4747, async () => 'ran', { waitMs: 200 });
    const run = await holding(4747);
    try {
      assert.equal(await busy.run(pass), undefined);
      assert.equal(await busy.run(pass), undefined);
      assert.equal(await busy.run(pass), undefined);
    } finally {
      await run.end();
    }
    assert.equal(await busy.run(pass), 'ran');
    assert.deepEqual(
      said.map((s) => s.level),
      ['info', 'info', 'warn'],
      JSON.stringify(said),
    );
    assert.equal(said[0]!.event, 'test.pass_skipped');
    assert.equal(said[0]!.fields?.reason, 'another pass is running');
    assert.equal(said[0]!.fields?.lock, '4747');
    assert.match(said[0]!.fields?.holder ?? '', /^pid \d+ \(long-run\)$/);
    assert.match(said[2]!.fields?.action ?? '', /pg_terminate_backend/);
    // Any other failure is the pass's own.
    await assert.rejects(
      busy.run(() => Promise.reject(new Error('boom'))),
      /boom/,
    );
  });
});

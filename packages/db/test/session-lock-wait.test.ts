// withSessionLock's wait for another session's hold is bounded: a session that never lets go (a hung
// process, a transaction left open) made every caller wait for ever, in silence. Real PostgreSQL,
// the lock held by a session of its own.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { SESSION_LOCK_WAIT_MS, SessionLockTimeoutError, withSessionLock } from '../src/index.ts';

describe('withSessionLock: a bounded wait for a lock another session holds (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('session_lock_wait');
  });
  after(() => db.drop());

  /** A session of its own that takes `key` and keeps it until ended. */
  async function holding(key: number): Promise<{ client: pg.Client; pid: number }> {
    const client = new pg.Client({ connectionString: db.url, application_name: 'stuck-holder' });
    await client.connect();
    await client.query('select pg_advisory_lock($1)', [key]);
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    return { client, pid: rows[0]!.pid };
  }

  test('held by a stuck session: gives up after the wait, naming the lock and the session holding it; the work never runs', {
    timeout: 30_000,
  }, async () => {
    const stuck = await holding(4545);
    try {
      let ran = false;
      const waited: string[] = [];
      const started = Date.now();
      await assert.rejects(
        withSessionLock(
          db.pool,
          4545,
          async () => {
            ran = true;
          },
          { waitMs: 500, onWait: (holder) => waited.push(holder) },
        ),
        (err: unknown) => {
          assert.ok(err instanceof SessionLockTimeoutError, String(err));
          assert.equal(
            err.message,
            `gave up after 0.5 s waiting for session lock 4545, held by pid ${stuck.pid} (stuck-holder): ` +
              'if that session is stuck, ending it (pg_terminate_backend) frees the lock',
          );
          return true;
        },
      );
      const ms = Date.now() - started;
      assert.ok(ms >= 450 && ms < 10_000, `gave up after ${ms} ms`);
      assert.equal(ran, false);
      assert.deepEqual(waited, [`pid ${stuck.pid} (stuck-holder)`], 'told once, before waiting');
    } finally {
      await stuck.client.end();
    }
    // Not left queued for it: once free, it is taken at once.
    assert.equal(await withSessionLock(db.pool, 4545, async () => 'ran', { waitMs: 500 }), 'ran');
  });

  test('released within the wait: taken and held for the work, and the session is left with no lock_timeout of its own', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const other = await holding(4646);
    try {
      setTimeout(() => void other.client.query('select pg_advisory_unlock($1)', [4646]), 300);
      const heldDuringWork = await withSessionLock(
        pool,
        4646,
        async () => (await other.client.query<{ got: boolean }>('select pg_try_advisory_lock($1) as got', [4646])).rows[0]!.got === false,
        { waitMs: 30_000 },
      );
      assert.equal(heldDuringWork, true, 'another session could not take it during the work');
      assert.equal((await pool.query<{ lock_timeout: string }>('show lock_timeout')).rows[0]!.lock_timeout, '0');
    } finally {
      await other.client.end();
      await pool.end();
    }
  });

  test('the default wait is long: a caller that rightly waits for a long run (a migration, a month’s finalize) is not cut short', () => {
    assert.ok(SESSION_LOCK_WAIT_MS >= 15 * 60_000, `${SESSION_LOCK_WAIT_MS} ms`);
  });
});

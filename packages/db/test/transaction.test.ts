import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { withSessionLock, withTransaction, type TransactionLog } from '../src/index.ts';

function recordingLog(): TransactionLog & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { lines, warn: (event, fields) => void lines.push({ event, ...fields }) };
}

/** Resolves once `n` parties have arrived: two transactions step in lockstep. */
function barrier(n: number) {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return () => {
    if (++arrived === n) open();
    return opened;
  };
}

describe('withTransaction (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('transaction');
    await db.pool.query('create table rows (id int primary key, n int not null); insert into rows values (1, 0), (2, 0)');
  });
  after(() => db.drop());

  const value = async (id: number) => (await db.pool.query<{ n: number }>('select n from rows where id = $1', [id])).rows[0]!.n;

  test('a deadlock between two transactions is retried: both commit once, and the retry is logged with a counter', async () => {
    const log = recordingLog();
    const bothHoldOne = barrier(2);
    let tries = 0;
    // Each takes one row, waits until the other holds its own, then asks for the other's: a deadlock.
    const crossing = (first: number, second: number) =>
      withTransaction(
        db.pool,
        async (client: pg.PoolClient) => {
          tries++;
          await client.query('update rows set n = n + 1 where id = $1', [first]);
          if (tries <= 2) await bothHoldOne();
          await client.query('update rows set n = n + 1 where id = $1', [second]);
        },
        { log, name: 'crossing' },
      );
    await Promise.all([crossing(1, 2), crossing(2, 1)]);
    assert.deepEqual([await value(1), await value(2)], [2, 2], 'each transaction committed exactly once');
    assert.equal(tries, 3, 'the victim ran again once');
    assert.equal(log.lines.length, 1);
    assert.deepEqual(
      { ...log.lines[0], attempt: undefined },
      {
        event: 'db.transaction_retry',
        transaction: 'crossing',
        code: '40P01',
        reason: 'deadlock_detected',
        attempt: undefined,
        'count#db.transaction_retries': 1,
      },
    );
  });

  test('a serialization failure under repeatable read is retried and then sees the other commit', async () => {
    const log = recordingLog();
    await db.pool.query('update rows set n = 0');
    const read = barrier(2);
    let tries = 0;
    const increment = () =>
      withTransaction(
        db.pool,
        async (client) => {
          tries++;
          const { rows } = await client.query<{ n: number }>('select n from rows where id = 1');
          if (tries <= 2) await read();
          await client.query('update rows set n = $1 where id = 1', [rows[0]!.n + 1]);
        },
        { isolation: 'repeatable read', log },
      );
    await Promise.all([increment(), increment()]);
    assert.equal(await value(1), 2, 'no lost update');
    assert.deepEqual(
      log.lines.map((l) => l.code),
      ['40001'],
    );
  });

  test('other errors are not retried, and retries stop after `attempts`', async () => {
    let tries = 0;
    await assert.rejects(
      withTransaction(db.pool, async (client) => {
        tries++;
        await client.query('select 1/0');
      }),
      /division by zero/,
    );
    assert.equal(tries, 1);
    tries = 0;
    const log = recordingLog();
    await assert.rejects(
      withTransaction(
        db.pool,
        async () => {
          tries++;
          throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
        },
        { attempts: 3, log },
      ),
      /deadlock detected/,
    );
    assert.equal(tries, 3);
    assert.equal(log.lines.length, 2);
    assert.equal(db.pool.totalCount - db.pool.idleCount, 0, 'every client went back to the pool');
  });

  test('a statement prepared before a migration changed its result fails once: the connection is let go, and the next transaction prepares it again', async () => {
    await db.pool.query('create table shaped (id int primary key)');
    // One connection, so a connection kept after the failure would be the one used next.
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    pool.on('error', () => {});
    try {
      const read = () =>
        withTransaction(
          pool,
          async (client) => (await client.query({ name: 'test.read-shaped', text: 'select * from shaped' })).fields.length,
        );
      assert.equal(await read(), 1);
      await db.pool.query('alter table shaped add column note text');
      await assert.rejects(read(), /cached plan must not change result type/);
      assert.equal(await read(), 2, 'prepared again on a new connection');
    } finally {
      await pool.end();
    }
  });

  test('withSessionLock runs one holder at a time across clients', async () => {
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 4 }, () =>
        withSessionLock(db.pool, 42, async () => {
          most = Math.max(most, ++inside);
          await new Promise((r) => setTimeout(r, 20));
          inside--;
        }),
      ),
    );
    assert.equal(most, 1);
  });

  test("withSessionLock: the lock's session ended by the server while the work runs (a restart, an idle kill) ends the process at once, in one line, before the work can go on without it", async () => {
    const holder = fileURLToPath(new URL('./fixtures/lock-holder.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--import', 'tsx', holder, db.url, '4242'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /^at=error event=session_lock\.lost lock=4242 error=".*" action="the process ends: the work must not go on without its lock"$/m,
    );
    assert.doesNotMatch(run.stdout, /went on/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack');
  });

  test("withSessionLock: a server that ends sessions idle for a second does not end the lock's: its heartbeat keeps it in use for the whole work", async () => {
    const holder = fileURLToPath(new URL('./fixtures/lock-holder.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--import', 'tsx', holder, db.url, '4343', 'idle'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /the work finished holding its lock/);
    assert.doesNotMatch(run.stdout, /session_lock\.lost/);
  });
});

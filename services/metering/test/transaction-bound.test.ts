// The consumer's transaction bound (transaction-bound.ts; docs/contracts/metering.md,
// "Usage commits within a bound of its learned_at"): on each kind of server, a
// transaction that writes usage never commits later than its limit after its start.
// The consumer held past the limit end to end: test/usage-commit-bound.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import {
  bounded,
  boundFor,
  cutByBound,
  LEARNED_MARGIN_MS,
  TRANSACTION_LIMIT_MS,
  TransactionTooLong,
  transactionBound,
} from '../src/consumer/transaction-bound.ts';
import { meteringDatabase } from './harness.ts';

describe('the bound of a consumer transaction', () => {
  test('a limit the learned margin does not cover, or none, is refused naming transactionLimitMs', () => {
    for (const bad of [LEARNED_MARGIN_MS, LEARNED_MARGIN_MS + 1, 0, -1, 1.5, Number.NaN])
      assert.throws(() => boundFor(170_000, bad), /transactionLimitMs: .*under 3600000/, String(bad));
    assert.ok(TRANSACTION_LIMIT_MS < LEARNED_MARGIN_MS);
  });

  test('transaction_timeout from PostgreSQL 17; before it, the weaker bound, said once at the start', async () => {
    assert.deepEqual(boundFor(170_000), { limitMs: TRANSACTION_LIMIT_MS, native: true });
    assert.deepEqual(boundFor(160_004, 1_000), { limitMs: 1_000, native: false });
    const old = { query: async () => ({ rows: [{ v: 160_004 }] }) } as unknown as pg.Pool;
    const log = memoryLogger();
    assert.deepEqual(await transactionBound(old, 1_000, log), { limitMs: 1_000, native: false });
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0]!, /at=warn event=metering\.transaction_bound_weaker server_version_num=160004 limit_ms=1000 /);
  });
});

describe('a bounded transaction on real PostgreSQL', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  before(async () => {
    db = await meteringDatabase();
    pool = db.pool;
    await pool.query('create table bound_probe (n int)');
  });
  after(async () => db?.drop());

  const rows = async () => Number((await pool.query<{ n: string }>('select count(*) as n from bound_probe')).rows[0]!.n);

  test('this server has transaction_timeout, and the consumer uses it: no warning', async () => {
    const log = memoryLogger();
    assert.deepEqual(await transactionBound(pool, 1_000, log), { limitMs: 1_000, native: true });
    assert.deepEqual(log.lines, []);
  });

  test('transaction_timeout cuts one waiting on a lock past the limit: nothing of it committed', { timeout: 30_000 }, async () => {
    const holder = await pool.connect();
    try {
      await holder.query('select pg_advisory_lock(42)');
      const err = await withTransaction(
        pool,
        bounded({ limitMs: 500, native: true }, async (c) => {
          await c.query('insert into bound_probe values (1)');
          await c.query('select pg_advisory_xact_lock(42)');
        }),
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.equal((err as { code?: string }).code, '25P04', String(err));
      assert.ok(cutByBound(err));
      assert.equal(await rows(), 0);
    } finally {
      await holder.query('select pg_advisory_unlock(42)');
      holder.release();
    }
  });

  test('without transaction_timeout, each statement is bounded and one older than the limit at its commit is refused, nothing committed', {
    timeout: 30_000,
  }, async () => {
    const weak = { limitMs: 500, native: false };
    // Each statement under the limit, together over it: only the check before the commit sees it.
    const err = await withTransaction(
      pool,
      bounded(weak, async (c) => {
        await c.query('insert into bound_probe values (2)');
        await c.query('select pg_sleep(0.3)');
        await c.query('select pg_sleep(0.3)');
      }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof TransactionTooLong, String(err));
    assert.ok(cutByBound(err));
    assert.equal(await rows(), 0);
    // One statement over it: statement_timeout.
    const slow = await withTransaction(
      pool,
      bounded(weak, async (c) => {
        await c.query('select pg_sleep(1)');
      }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal((slow as { code?: string }).code, '57014', String(slow));
    assert.ok(cutByBound(slow));
  });

  test('a transaction within its limit commits, and leaves the session with no limit of its own', async () => {
    for (const native of [true, false]) {
      await withTransaction(
        pool,
        bounded({ limitMs: 5_000, native }, async (c) => {
          await c.query('insert into bound_probe values (3)');
        }),
      );
    }
    assert.equal(await rows(), 2);
    const c = await pool.connect();
    try {
      const { rows: s } = await c.query<Record<string, string>>(
        `select current_setting('transaction_timeout') as t, current_setting('statement_timeout') as s,
                current_setting('idle_in_transaction_session_timeout') as i`,
      );
      assert.deepEqual(s[0], { t: '0', s: '0', i: '0' });
    } finally {
      c.release();
    }
  });
});

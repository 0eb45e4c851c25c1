// Two `vault refund-stray` runs renewing one state's key at once (real PostgreSQL sessions). The
// renewal's fallback read ran in the upsert's snapshot, taken before the other run committed: the
// second run got no row (a TypeError) or the spent key back, and sent it again. Each now gets the key
// the other run committed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { renewStrayRefundKey } from '../src/charging/stray-refund-keys.ts';
import { chargingDatabase } from './charging-fixture.ts';

describe('renewStrayRefundKey: two runs at once (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await chargingDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  /** Whether `promise` is still pending after a moment: blocked on the other session's row. */
  const blocked = async (promise: Promise<unknown>) =>
    (await Promise.race([
      promise.then(
        () => false,
        () => false,
      ),
      new Promise((r) => setTimeout(() => r(true), 300)),
    ])) === true;

  test("another run's first renewal committed while this one waited: its key is returned, no TypeError", async () => {
    const other = await db.pool.connect();
    try {
      await other.query('begin');
      await other.query(
        `insert into invoicing.stray_refund_keys (base_key, payment_intent_id, idempotency_key) values ('b1', 'pi_1', 'b1:A')`,
      );
      const mine = renewStrayRefundKey(db.pool, 'b1', 'pi_1', 'b1');
      assert.equal(await blocked(mine), true);
      await other.query('commit');
      assert.equal(await mine, 'b1:A');
    } finally {
      other.release();
    }
    const { rows } = await db.pool.query(`select idempotency_key from invoicing.stray_refund_keys where base_key = 'b1'`);
    assert.deepEqual(rows, [{ idempotency_key: 'b1:A' }]);
  });

  test("a stored key renewed by another run while this one waited: that run's key is returned, not the spent one", async () => {
    await db.pool.query(
      `insert into invoicing.stray_refund_keys (base_key, payment_intent_id, idempotency_key) values ('b2', 'pi_2', 'b2:A')`,
    );
    const other = await db.pool.connect();
    try {
      await other.query('begin');
      await other.query(`update invoicing.stray_refund_keys set idempotency_key = 'b2:C' where base_key = 'b2'`);
      const mine = renewStrayRefundKey(db.pool, 'b2', 'pi_2', 'b2:A');
      assert.equal(await blocked(mine), true);
      await other.query('commit');
      assert.equal(await mine, 'b2:C');
    } finally {
      other.release();
    }
    const { rows } = await db.pool.query(`select idempotency_key from invoicing.stray_refund_keys where base_key = 'b2'`);
    assert.deepEqual(rows, [{ idempotency_key: 'b2:C' }]);
  });

  test('alone: the spent key is renewed once; renewing it again returns the stored one', async () => {
    const first = await renewStrayRefundKey(db.pool, 'b3', 'pi_3', 'b3');
    assert.match(first, /^b3:/);
    assert.equal(await renewStrayRefundKey(db.pool, 'b3', 'pi_3', 'b3'), first);
    const second = await renewStrayRefundKey(db.pool, 'b3', 'pi_3', first);
    assert.notEqual(second, first);
    assert.match(second, /^b3:/);
  });
});

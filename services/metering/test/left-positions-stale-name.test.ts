// Re-review (left_positions): the bus names a batch's log from an identity it caches for up
// to 5 s, so after a rebalance another metering process may name a batch of the topic's new
// incarnation (t2) for the dead one (t1). Its switch left t2's position and then forgot every
// other incarnation's row, t2's just written among them: once the name caught up, t2 was read
// again from 0 (and a trimmed log logged as lost what was applied). A batch now forgets only
// rows left over a minute ago (left-positions.ts). Real PostgreSQL; batches built as the bus
// hands them over.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Batch } from '@vault/bus';
import { applyMessages } from '../src/consumer/apply-messages.ts';
import { newContact, REREAD_ACTION, resumeAction } from '../src/consumer/log-position.ts';
import { busBatch, dynoStarts, meteringDatabases } from './harness.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const { db, dropAll } = meteringDatabases();
const T1 = 'kafka:cluster-1/billing/t1';
const T2 = 'kafka:cluster-1/billing/t2';

const starts = dynoStarts;

const inLog = (log: string, values: string[], offset = 0): Batch => ({ ...busBatch(values, offset, 0, NOW), log });

describe('left_positions and a batch named for a stale incarnation (real PostgreSQL)', () => {
  after(dropAll);

  test("a batch of t2 named t1 by another process's cached identity keeps t2's row: the next t2 batch resumes there, not from 0", async () => {
    const d = await db();
    assert.equal((await applyMessages(d.pool, inLog(T1, starts('one', 10)), NOW)).applied, 10);
    // The topic made again: process A moves the partition to t2 and reads 3 messages there.
    const t2 = starts('two', 5);
    assert.equal((await applyMessages(d.pool, inLog(T2, t2.slice(0, 3)), NOW)).applied, 3);
    // A rebalance: process B, whose cached identity still says t1, gets t2's next batch named t1.
    await applyMessages(d.pool, inLog(T1, t2.slice(3), 3), NOW, undefined, newContact());
    const left = await d.pool.query<{ log: string; next_offset: string }>(
      'select log, next_offset::text from metering.left_positions where log = $1',
      [T2],
    );
    assert.deepEqual(left.rows, [{ log: T2, next_offset: '3' }], "t2's row, written by that batch's switch, is kept");

    // B's name catches up: t2 resumes at 3 (its anchor, offset 2, is asked for first), not read again from 0.
    const b = newContact();
    const back = await applyMessages(d.pool, inLog(T2, t2.slice(3), 3), NOW, undefined, b);
    assert.equal(back.readFrom, '2');
    const changes = await d.pool.query<{ to_log: string; action: string }>(
      'select to_log, action from metering.log_changes where to_log = $1 order by id',
      [T2],
    );
    assert.deepEqual(
      changes.rows.map((r) => r.action),
      [REREAD_ACTION, resumeAction(3n)],
      't2 read from its start once (when it was new), then resumed',
    );
    const answered = await applyMessages(d.pool, inLog(T2, t2.slice(2), 2), NOW, undefined, b);
    assert.deepEqual([answered.applied, answered.skipped], [2, 1]);
  });
});

// `read_to`: the offsets after a partition's position that a Kafka fetch found holding no message
// (a transaction's markers, an aborted transaction), which consumer_lag does not count. What it may
// learn and what it must refuse, batch by batch without a broker (the real broker:
// log-transaction-lag.test.ts).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Batch, EmptyRange } from '@vault/bus';
import { applyMessages } from '../src/consumer/apply-messages.ts';
import { noteEmptyRange } from '../src/consumer/empty-offsets.ts';
import { consumerLag } from '../src/consumer/log-report.ts';
import { busBatch, exampleLines, meteringDatabases } from './harness.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const { db, dropAll } = meteringDatabases();
const october = exampleLines('october.ndjson');
const n = october.length;

/** The log as GET /v1/stats reads it: partition 0 (and 1) ending at `end`. */
const ends = (end: number, end1 = 0) => ({
  log: 'test-log',
  bounds: [
    { partition: 0, start: '0', end: String(end) },
    { partition: 1, start: '0', end: String(end1) },
  ],
});
const range = (from: number, to: number, over: Partial<EmptyRange> = {}): EmptyRange => ({
  topic: 'billing',
  partition: 0,
  log: 'test-log',
  from: String(from),
  to: String(to),
  ...over,
});
const position = async (pool: Parameters<typeof consumerLag>[0], partition = 0) =>
  (
    await pool.query<{ next_offset: string; read_to: string | null }>(
      'select next_offset::text, read_to::text from metering.consumer_positions where partition = $1',
      [partition],
    )
  ).rows[0];

describe('read_to: offsets after the position known to hold no message (real PostgreSQL)', () => {
  after(dropAll);

  test('a batch whose fetch ended past a marker after its last message: consumer_lag 0 at that end, every later offset counted, the position itself unchanged', async () => {
    const d = await db();
    const b: Batch = { ...busBatch(october), fetchedTo: String(n + 1), highWatermark: String(n + 1) };
    await applyMessages(d.pool, b, NOW);
    assert.deepEqual(await position(d.pool), { next_offset: String(n), read_to: String(n + 1) });
    assert.equal(await consumerLag(d.pool, 'billing', ends(n + 1)), 0);
    assert.equal(await consumerLag(d.pool, 'billing', ends(n + 4)), 3, 'messages after the marker counted');
    // The next batch ends on its last message: nothing known past it.
    const extra = JSON.stringify({ ...JSON.parse(october[0]!), id: 'evt-next', subject: 'dyno-next', sequence: 2 });
    await applyMessages(d.pool, { ...busBatch([extra], n + 1), fetchedFrom: String(n + 1), fetchedTo: String(n + 2) }, NOW);
    assert.deepEqual(await position(d.pool), { next_offset: String(n + 2), read_to: null });
    assert.equal(await consumerLag(d.pool, 'billing', ends(n + 3)), 1);
  });

  test('an empty range counts only from the position or what is known to hold none, in its log, and never moves back', async () => {
    const d = await db();
    await applyMessages(d.pool, { ...busBatch(october), fetchedTo: String(n + 1) }, NOW);
    // Offset n + 1 is not known to hold no message: a range beginning after it says nothing of it.
    await noteEmptyRange(d.pool, range(n + 2, n + 6));
    assert.equal(await consumerLag(d.pool, 'billing', ends(n + 6)), 5);
    await noteEmptyRange(d.pool, range(n + 1, n + 6, { log: 'another-log' }));
    await noteEmptyRange(d.pool, range(n + 1, n + 6, { partition: 1 }));
    assert.equal(await consumerLag(d.pool, 'billing', ends(n + 6)), 5, 'another log or partition changes nothing');
    assert.equal(await position(d.pool, 1), undefined, 'no position made but at 0');
    await noteEmptyRange(d.pool, range(n + 1, n + 6));
    assert.equal(await consumerLag(d.pool, 'billing', ends(n + 6)), 0);
    await noteEmptyRange(d.pool, range(n, n + 3));
    assert.deepEqual(await position(d.pool), { next_offset: String(n), read_to: String(n + 6) }, 'never back');
    // From the position itself.
    await noteEmptyRange(d.pool, range(n, n + 8));
    assert.equal(await consumerLag(d.pool, 'billing', ends(n + 9)), 1);
  });

  test('a partition with no position whose log begins with an aborted transaction: a position at 0, and its first batch applied from 0 with no hole', async () => {
    const d = await db();
    await noteEmptyRange(d.pool, range(0, 5, { partition: 1 }));
    assert.deepEqual(await position(d.pool, 1), { next_offset: '0', read_to: '5' });
    assert.equal(await consumerLag(d.pool, 'billing', ends(0, 5)), 0);
    const result = await applyMessages(d.pool, { ...busBatch(october, 5, 1), fetchedFrom: '0' }, NOW);
    assert.equal(result.applied, 13);
    assert.equal(result.hole, undefined);
    assert.equal(await consumerLag(d.pool, 'billing', ends(0, 5 + n)), 0);
  });

  test('a batch read again that ends at the position (the anchor asked for, a bus commit lost) teaches the offsets its fetch read past it', async () => {
    const d = await db();
    await applyMessages(d.pool, busBatch(october), NOW);
    assert.equal(await consumerLag(d.pool, 'billing', ends(n + 1)), 1, 'stored before read_to was known');
    const again = await applyMessages(d.pool, { ...busBatch(october.slice(-1), n - 1), fetchedTo: String(n + 1) }, NOW);
    assert.equal(again.skipped, 1);
    assert.equal(await consumerLag(d.pool, 'billing', ends(n + 1)), 0);
    assert.deepEqual(await position(d.pool), { next_offset: String(n), read_to: String(n + 1) });
  });
});

// metering.left_positions (migration 024) keeps the position a partition had in a log it left, so a
// return resumes there. A topic deleted and made again N times left N rows a partition that no
// batch could ever resume (an incarnation is never made again): they are forgotten once the
// cluster or bus holds another incarnation (left-positions.ts). Real PostgreSQL; the embedded bus.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createEmbeddedBus, type Batch } from '@vault/bus';
import { memoryLogger } from '@vault/runtime';
import { uniqueName } from '@vault/testkit';
import { applyMessages } from '../src/consumer/apply-messages.ts';
import { noteLog } from '../src/consumer/consumed-log.ts';
import { incarnationOf } from '../src/consumer/left-positions.ts';
import { readCounters } from '../src/reports/store.ts';
import { busBatch, dynoStarts, meteringDatabases } from './harness.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const { db, dropAll } = meteringDatabases();

const starts = dynoStarts;

const inLog = (log: string, values: string[], offset = 0): Batch => ({ ...busBatch(values, offset, 0, NOW), log });

describe('metering.left_positions is bounded: a topic made again leaves no row per incarnation (real PostgreSQL)', () => {
  after(dropAll);

  test('the log id names its incarnation; a broker that names no topic id has none to tell apart', () => {
    assert.deepEqual(incarnationOf('kafka:c1/billing/abc'), { prefix: 'kafka:c1/billing/', incarnation: 'abc' });
    assert.equal(incarnationOf('kafka:c1/billing/-'), undefined);
    assert.equal(incarnationOf('test-log'), undefined);
  });

  test('a topic deleted and made again five times on Kafka keeps only the embedded log left (a return resumes there), no row for a dead incarnation', async () => {
    const d = await db();
    const embedded = 'embedded:bus-1/billing/e1';
    assert.equal((await applyMessages(d.pool, inLog(embedded, starts('home', 10)), NOW)).applied, 10);
    for (let i = 1; i <= 5; i++) {
      const made = await applyMessages(d.pool, inLog(`kafka:cluster-1/billing/t${i}`, starts(`k${i}`, 3)), NOW);
      assert.equal(made.applied, 3);
      // Each incarnation read for longer than FORGET_LEFT_AFTER: a row left under it may be a live
      // log's, left by a batch named from a stale identity (left-positions-stale-name.test.ts).
      await d.pool.query(`update metering.left_positions set left_at = left_at - interval '2 minutes'`);
    }
    const { rows } = await d.pool.query<{ log: string; next_offset: string }>(
      'select log, next_offset::text from metering.left_positions order by log',
    );
    // t4, left when t5 was met, goes at the next switch on the cluster a minute on, or at start.
    assert.deepEqual(rows, [
      { log: embedded, next_offset: '10' },
      { log: 'kafka:cluster-1/billing/t4', next_offset: '3' },
    ]);
    // Back on the embedded log: resumed where metering left it, nothing applied twice.
    const back = await applyMessages(d.pool, inLog(embedded, [...starts('home', 10).slice(9), ...starts('later', 2)], 9), NOW);
    assert.deepEqual([back.skipped, back.applied], [1, 2]);
    assert.equal((await readCounters(d.pool)).events_applied, 10 + 15 + 2);
    // The Kafka log left now (incarnation 5, still on its cluster) is kept: it may be read again.
    const kept = await d.pool.query<{ log: string }>('select log from metering.left_positions order by log');
    assert.deepEqual(
      kept.rows.map((r) => r.log),
      ['kafka:cluster-1/billing/t4', 'kafka:cluster-1/billing/t5'],
    );
  });

  test("at start, rows left in the topic's earlier incarnations on this bus are forgotten; another bus's, another topic's and a broker's without topic ids are kept", async () => {
    const d = await db();
    const bus = await createEmbeddedBus({ pool: d.pool, url: d.url });
    try {
      const topic = uniqueName('billing');
      await bus.ensureTopic(topic, 1);
      const now = (await bus.describeLog(topic)).id;
      const prefix = now.slice(0, now.lastIndexOf('/') + 1);
      const other = uniqueName('other');
      const left = [
        [topic, `${prefix}00000000-0000-0000-0000-000000000001`],
        [topic, `${prefix}00000000-0000-0000-0000-000000000002`],
        [topic, 'kafka:cluster-1/' + topic + '/t1'],
        [topic, 'kafka:cluster-old/' + topic + '/-'],
        [other, `${prefix.replace(`/${topic}/`, `/${other}/`)}00000000-0000-0000-0000-000000000003`],
      ];
      for (const [t, log] of left) {
        await d.pool.query(
          `insert into metering.left_positions (topic, partition, log, next_offset, last_hash) values ($1, 0, $2, 5, 'h')`,
          [t, log],
        );
      }
      await noteLog(d.pool, bus, topic, memoryLogger());
      const { rows } = await d.pool.query<{ log: string }>('select log from metering.left_positions order by log');
      assert.deepEqual(rows.map((r) => r.log).sort(), [left[2]![1], left[3]![1], left[4]![1]].sort());
    } finally {
      await bus.close();
    }
  });
});

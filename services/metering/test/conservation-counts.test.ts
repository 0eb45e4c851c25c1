// Conservation: every message read off the bus ends applied, duplicate or
// rejected, exactly once, and is counted so per partition and per source, in
// the batch's own transaction (metering.message_counts, GET /v1/stats).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { MeteringStats, type SourceCounts } from '@vault/contracts';
import { eventually, type TestDatabase } from '@vault/testkit';
import { applyMessages } from '../src/consumer/apply-messages.ts';
import { readCounters, readMessageCounts } from '../src/reports/store.ts';
import { assertEachConserved as assertConserved, countBy, sourceOf } from './conservation.ts';
import { AUTH, busBatch, exampleLines, meteringDatabases, startMetering } from './harness.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const { db, dropAll } = meteringDatabases();

const october = exampleLines('october.ndjson');
const invalid = exampleLines('invalid.ndjson');
const addon = (seq: number, type: string, time: string, data: object) =>
  JSON.stringify({ specversion: '1.0', id: `c${seq}`, source: 'addon-service', type, time, subject: 'addon-c', sequence: seq, data });
// Times that run backwards against sequence: one of them is refused by the store, isolated and rejected.
const poison = [
  addon(1, 'addon.provisioned', '2026-10-10T00:00:00Z', { app_id: 'app-1', service: 'heroku-redis', plan: 'mini' }),
  addon(2, 'addon.plan_changed', '2026-10-20T00:00:00Z', { app_id: 'app-1', plan: 'premium-0' }),
  addon(3, 'addon.plan_changed', '2026-10-15T00:00:00Z', { app_id: 'app-1', plan: 'premium-1' }),
];
const nul = JSON.stringify({
  ...JSON.parse(october[1]!),
  id: 'evt-nul',
  subject: 'app-nul',
  data: { app_id: 'app-nul', account_id: 'a\u0000' },
});
const notUtf8 = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
const emptySource = JSON.stringify({ ...JSON.parse(october[0]!), id: 'evt-empty-source', source: '' });
const partitions: (string | Buffer)[][] = [
  [...october, nul, ...poison, 'not json at all', notUtf8],
  [...invalid, ...october, notUtf8, emptySource, ...poison],
];

/** A partition's messages in batches of 4, each batch then delivered again with the two before it (its bus commit lost). */
async function consume(d: TestDatabase, partition: number, values: (string | Buffer)[]): Promise<void> {
  for (let i = 0; i < values.length; i += 4) {
    await applyMessages(d.pool, busBatch(values.slice(i, i + 4), i, partition, NOW), NOW);
    const from = Math.max(0, i - 2);
    const again = await applyMessages(d.pool, busBatch(values.slice(from, i + 4), from, partition, NOW), NOW);
    assert.equal(again.skipped, Math.min(i + 4, values.length) - from, 'a redelivered batch is skipped, not counted again');
  }
}

describe('metering: conservation per partition and per source (real PostgreSQL)', () => {
  after(dropAll);

  test('an empty database: zero totals (the counts from before migration 007 included), no source, no partition', async () => {
    const d = await db();
    assert.deepEqual(await readMessageCounts(d.pool), {
      totals: { events_applied: 0, events_duplicate: 0, events_rejected: 0 },
      sources: [],
      partitions: [],
    });
    await d.pool.query(`update metering.counters set value = 5 where name = 'events_duplicate'`);
    assert.deepEqual(await readCounters(d.pool), { events_applied: 0, events_duplicate: 5, events_rejected: 0 });
  });

  test('two partitions batching at once, with redeliveries, duplicates, reused ids, unreadable bytes and store refusals: per partition and per source, read = applied + duplicate + rejected = the messages sent', async () => {
    const d = await db();
    await Promise.all(partitions.map((values, p) => consume(d, p, values)));
    const { sources, partitions: byPartition } = await readMessageCounts(d.pool);
    assertConserved(sources);
    assertConserved(byPartition);

    assert.deepEqual(
      byPartition.map((p) => [p.topic, p.partition, p.read]),
      partitions.map((values, p) => ['billing', p, values.length]),
      'each partition read every message once',
    );
    const sent = countBy(partitions.flat(), sourceOf);
    assert.deepEqual(new Map(sources.map((s) => [s.source, s.read])), sent, 'each source read every message once');
    assert.equal(sources.at(-1)?.source, null, 'messages without a readable source are listed last, as null');
    assert.deepEqual(sources.at(-1), { source: null, read: 5, applied: 0, duplicate: 1, rejected: 4 });

    const global = await readCounters(d.pool);
    const sum = (k: 'applied' | 'duplicate' | 'rejected') => sources.reduce((n, s) => n + s[k], 0);
    assert.deepEqual(
      { events_applied: sum('applied'), events_duplicate: sum('duplicate'), events_rejected: sum('rejected') },
      global,
      'the sources add up to the global counters',
    );

    // Outcomes per source never depend on which partition got there first: one partition, in order, gives the same.
    const reference = await db();
    await consume(reference, 0, partitions.flat());
    const strip = (rows: SourceCounts[]) =>
      rows.map(({ source, applied, duplicate, rejected }) => ({ source, applied, duplicate, rejected }));
    assert.deepEqual(strip(sources), strip((await readMessageCounts(reference.pool)).sources));
  });

  test('GET /v1/stats shows per source and per partition what was published through POST /v1/events, conserved, adding up to the global counters', {
    timeout: 120_000,
  }, async () => {
    const m = await startMetering('embedded');
    try {
      const lines = [...october, ...invalid, ...october.slice(0, 3), 'not json', emptySource];
      const posted = await m.http.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
        payload: lines.join('\n'),
      });
      assert.equal(posted.statusCode, 202, posted.body);
      let last: MeteringStats | undefined;
      await eventually(
        () => `every line read: ${JSON.stringify(last)}`,
        async () => {
          last = MeteringStats.parse((await m.http.inject({ method: 'GET', url: '/v1/stats', headers: AUTH })).json());
          return last.partitions.reduce((n, p) => n + p.read, 0) === lines.length;
        },
      );
      const s = last!;
      assertConserved(s.sources);
      assertConserved(s.partitions);
      assert.deepEqual(new Map(s.sources.map((x) => [x.source, x.read])), countBy(lines, sourceOf));
      assert.ok(
        s.partitions.every((p) => p.topic === m.topic),
        'one topic',
      );
      const sum = (k: 'applied' | 'duplicate' | 'rejected') => s.sources.reduce((n, x) => n + x[k], 0);
      assert.deepEqual([sum('applied'), sum('duplicate'), sum('rejected')], [s.events_applied, s.events_duplicate, s.events_rejected]);
      assert.deepEqual([s.events_applied, s.events_duplicate, s.events_rejected], [13, 5, 12]);
    } finally {
      await m.close();
    }
  });
});

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { eventually } from '@vault/testkit';
import { applyMessages } from '../src/consumer/apply-messages.ts';
import { listRejected, readCounters } from '../src/reports/store.ts';
import { busBatch, exampleLines, meteringDatabases, usageOf } from './harness.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const { db, dropAll } = meteringDatabases();

const batch = (values: (string | Buffer)[], firstOffset = 0, partition = 0) => busBatch(values, firstOffset, partition, NOW);

/** One event as its publisher sends it. */
const sent = (id: string, source: string, subject: string, sequence: number, type: string, time: string, data: object) =>
  JSON.stringify({ specversion: '1.0', id, source, type, time, subject, sequence, data });

/** A fresh database's usage once `batches` were applied one after another, at successive bus offsets. */
async function usageAfter(batches: string[][]) {
  const d = await db();
  let offset = 0;
  for (const values of batches) {
    await applyMessages(d.pool, batch(values, offset), NOW);
    offset += values.length;
  }
  return usageOf(d);
}

const addon = (seq: number, type: string, time: string, data: object) => sent(`p${seq}`, 'addon-service', 'addon-p', seq, type, time, data);

describe('metering: a bus batch is applied exactly once, and never stopped by one bad message (real PostgreSQL)', () => {
  after(dropAll);

  test('a batch delivered again after its bus commit was lost is skipped by position: counters stay exact', async () => {
    const d = await db();
    const october = exampleLines('october.ndjson');
    const first = await applyMessages(d.pool, batch(october), NOW);
    assert.equal(first.applied, 13);
    const again = await applyMessages(d.pool, batch(october), NOW);
    assert.equal(again.skipped, october.length);
    // An overlapping redelivery: old messages skipped, the new one applied.
    const extra = JSON.stringify({ ...JSON.parse(october[0]!), id: 'evt-new', subject: 'dyno-new', sequence: 2 });
    const overlap = await applyMessages(d.pool, batch([...october.slice(-2), extra], october.length - 2), NOW);
    assert.equal(overlap.skipped, 2);
    assert.equal(overlap.applied, 1);
    assert.deepEqual(await readCounters(d.pool), { events_applied: 14, events_duplicate: 2, events_rejected: 0 });
  });

  test('one batch applied by two members at once (a rebalance), at first contact and after: one applies it, the other waits for the position and skips it', async () => {
    const d = await db();
    const october = exampleLines('october.ndjson');
    /** Both members started while a third session holds the position row, let go once both wait for it. */
    const together = async (b: ReturnType<typeof batch>) => {
      const holder = await d.pool.connect();
      try {
        await holder.query('begin');
        // An uncommitted row at first contact, the row locked after.
        await holder.query(
          `insert into metering.consumer_positions (topic, partition, next_offset, log) values ($1, $2, 0, $3)
           on conflict (topic, partition) do update set topic = excluded.topic`,
          [b.topic, b.partition, b.log],
        );
        const both = Promise.all([applyMessages(d.pool, b, NOW), applyMessages(d.pool, b, NOW)]);
        await eventually('both members waiting for the position', async () => {
          const { rows } = await d.pool.query<{ n: number }>(
            `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
          );
          return rows[0]!.n === 2;
        });
        await holder.query('commit');
        return await both;
      } finally {
        holder.release();
      }
    };
    const byNumber = (a: number, b: number) => a - b;
    const firstContact = await together(batch(october));
    assert.deepEqual(firstContact.map((r) => r.applied).sort(byNumber), [0, 13]);
    assert.deepEqual(firstContact.map((r) => r.skipped).sort(byNumber), [0, october.length]);
    const extra = JSON.stringify({ ...JSON.parse(october[0]!), id: 'evt-both', subject: 'dyno-both', sequence: 2 });
    const after = await together(batch([extra], october.length));
    assert.deepEqual(after.map((r) => r.applied).sort(byNumber), [0, 1]);
    // Counted once: the two re-sends october.ndjson holds, not twice over.
    assert.deepEqual(await readCounters(d.pool), { events_applied: 14, events_duplicate: 2, events_rejected: 0 });
  });

  test('an id holding half a surrogate pair is rejected, and delivered again it is a duplicate of that rejection: the consumer never stalls on it, and two such ids never meet as one', async () => {
    const d = await db();
    const october = exampleLines('october.ndjson');
    // Escaped in JSON, "\ud800" parses to half a pair, which PostgreSQL would have stored as U+FFFD.
    const lone = (id: string) => october[1]!.replace(/"id": ?"[^"]*"/, `"id":"${id}"`);
    const first = await applyMessages(d.pool, batch([lone('e-\\ud800'), october[0]!]), NOW);
    assert.deepEqual(
      first.rejected.map((r) => [r.eventId, r.reasons[0]?.field, r.reasons[0]?.code]),
      [['e-\uFFFD', 'id', 'store_refused']],
    );
    assert.equal(first.applied, 1);
    // Again (at-least-once delivery), and another id that differs only in its half pair, and the next event.
    const again = await applyMessages(d.pool, batch([lone('e-\\ud800'), lone('e-\\udbff'), october[2]!], 2), NOW);
    assert.deepEqual(
      again.rejected.map((r) => [r.eventId, r.reasons[0]?.field, r.reasons[0]?.code]),
      [['e-\uFFFD', 'id', 'store_refused']],
      'the other id is a rejection of its own',
    );
    assert.deepEqual([again.applied, again.duplicates], [1, 1]);
    assert.deepEqual(await readCounters(d.pool), { events_applied: 2, events_duplicate: 1, events_rejected: 2 });
    const kept = (await listRejected(d.pool, { status: 'all', limit: 10, after: '0' })).rejected;
    assert.deepEqual(
      kept.map((r) => r.bus_position),
      ['billing/0/0', 'billing/0/3'],
      'each kept once, where it is on the bus',
    );
  });

  test('an event the store refuses is rejected alone; the rest of its batch applies and the position moves on', async () => {
    const d = await db();
    const october = exampleLines('october.ndjson');
    const nul = JSON.stringify({
      ...JSON.parse(october[1]!),
      id: 'evt-nul',
      subject: 'app-nul',
      data: { app_id: 'app-nul', account_id: 'acct\u0000x' },
    });
    // Times that run backwards against sequence: its usage would overlap the earlier plan's.
    const poison = [
      addon(1, 'addon.provisioned', '2026-10-10T00:00:00Z', { app_id: 'app-1', service: 'heroku-redis', plan: 'mini' }),
      addon(2, 'addon.plan_changed', '2026-10-20T00:00:00Z', { app_id: 'app-1', plan: 'premium-0' }),
      addon(3, 'addon.plan_changed', '2026-10-15T00:00:00Z', { app_id: 'app-1', plan: 'premium-1' }),
    ];
    const result = await applyMessages(d.pool, batch([...october, nul, ...poison]), NOW);
    assert.equal(result.isolated, true);
    assert.equal(result.applied, 15);
    assert.deepEqual(
      result.rejected.map((r) => [r.eventId, r.reasons[0]?.code, r.reasons[0]?.field]),
      [
        ['evt-nul', 'store_refused', 'data.account_id'],
        ['p3', 'store_refused', ''],
      ],
    );
    const kept = (await listRejected(d.pool, { status: 'all', limit: 10, after: '0' })).rejected;
    assert.deepEqual(
      kept.map((r) => [r.event_id, r.bus_position]).sort(),
      [
        ['evt-nul', `billing/0/${october.length}`],
        ['p3', `billing/0/${october.length + 3}`],
      ],
      'each rejection names where it is on the bus',
    );
    const usage = await usageOf(d);
    assert.deepEqual(
      usage.intervals.filter((i) => i.subject === 'addon-p').map((i) => [i.product, i.from, i.to]),
      [
        ['addon:heroku-redis:mini', '2026-10-10 00:00:00+00', '2026-10-20 00:00:00+00'],
        ['addon:heroku-redis:premium-0', '2026-10-20 00:00:00+00', null],
      ],
      "the usage of the refused event's subject stands as its events before it made it",
    );
    const next = await applyMessages(d.pool, batch(october, 0), NOW);
    assert.equal(next.skipped, october.length, 'the position moved past the whole batch');
  });

  test('times with an offset beyond 15 hours (valid RFC 3339, beyond PostgreSQL) are applied as their instants, for a new subject and one with a history', async () => {
    const d = await db();
    const far = (seq: number, type: string, time: string, data: object) =>
      sent(`far-${seq}`, 'addon-service', 'addon-far', seq, type, time, data);
    const first = await applyMessages(
      d.pool,
      batch([far(1, 'addon.provisioned', '2026-10-03T14:00:00+16:00', { app_id: 'app-far', service: 'heroku-redis', plan: 'mini' })]),
      NOW,
    );
    const second = await applyMessages(
      d.pool,
      batch([far(2, 'addon.plan_changed', '2026-10-10T00:00:00.25-20:00', { app_id: 'app-far', plan: 'premium-0' })], 1),
      NOW,
    );
    assert.deepEqual([first.applied, first.rejected.length, second.applied, second.rejected.length], [1, 0, 1, 0]);
    const usage = await usageOf(d);
    assert.deepEqual(
      usage.intervals.filter((i) => i.subject === 'addon-far').map((i) => [i.product, i.from, i.to]),
      [
        ['addon:heroku-redis:mini', '2026-10-02 22:00:00+00', '2026-10-10 20:00:00.25+00'],
        ['addon:heroku-redis:premium-0', '2026-10-10 20:00:00.25+00', null],
      ],
    );
  });

  test('two events with one sequence (a publisher repeating a number): the earliest counts whatever their order, and no hole is made that no event could fill', async () => {
    const dyno = (id: string, seq: number, type: string, time: string) =>
      sent(id, 'dyno-manager', 'dyno-twice', seq, type, time, { app_id: 'app-twice', name: 'web.1', size: 'basic' });
    const start = dyno('tw-1', 1, 'dyno.started', '2026-10-01T00:00:00Z');
    const stopA = dyno('tw-a', 2, 'dyno.stopped', '2026-10-12T00:00:00Z');
    const stopB = dyno('tw-b', 2, 'dyno.stopped', '2026-10-11T00:00:00Z');
    const results: unknown[] = [];
    for (const batches of [
      [[start], [stopA], [stopB]],
      [[start], [stopB, stopA]],
      [[stopB], [stopA, start]],
    ]) {
      const usage = await usageAfter(batches);
      const mine = usage.intervals.filter((i) => i.subject === 'dyno-twice').map((i) => [i.from, i.to]);
      results.push([mine, usage.gaps.filter((g) => g.subject === 'dyno-twice')]);
    }
    const expected = [[['2026-10-01 00:00:00+00', '2026-10-11 00:00:00+00']], []];
    assert.deepEqual(results, [expected, expected, expected]);
  });

  test("an add-on's events after its deprovisioning (its last event) open no usage: in one batch, and arriving later", async () => {
    const gone = (seq: number, type: string, time: string, data: object) =>
      sent(`gone-${seq}`, 'addon-service', 'addon-gone', seq, type, time, data);
    const events = [
      gone(1, 'addon.provisioned', '2026-10-01T00:00:00Z', { app_id: 'app-gone', service: 'heroku-redis', plan: 'mini' }),
      gone(2, 'addon.deprovisioned', '2026-10-05T00:00:00Z', { app_id: 'app-gone' }),
      gone(3, 'addon.plan_changed', '2026-10-06T00:00:00Z', { app_id: 'app-gone', plan: 'premium-0' }),
    ];
    for (const batches of [[events], [events.slice(0, 2), events.slice(2)]]) {
      const usage = await usageAfter(batches);
      assert.deepEqual(
        usage.intervals.filter((i) => i.subject === 'addon-gone').map((i) => [i.product, i.from, i.to]),
        [['addon:heroku-redis:mini', '2026-10-01 00:00:00+00', '2026-10-05 00:00:00+00']],
      );
    }
  });

  test('bytes that are not UTF-8 are kept exactly and listed with their base64', async () => {
    const d = await db();
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x7d]);
    const result = await applyMessages(d.pool, batch([bytes, bytes]), NOW);
    assert.equal(result.rejected.length, 1);
    assert.equal(result.duplicates, 1, 'the same bytes again are one rejection');
    const [listed] = (await listRejected(d.pool, { status: 'pending', limit: 10, after: '0' })).rejected;
    assert.equal(listed?.raw_base64, bytes.toString('base64'));
    assert.equal(listed?.reasons[0]?.code, 'not_json');
  });
});

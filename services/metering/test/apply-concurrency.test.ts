// Two partitions' batches applied at once (issue 21's search for lock
// inversions): one batch has to be applied event by event around a poison
// event while another batch, on another partition, holds a subject the first
// one reaches later. Locks are taken in one order (subjects sorted, the
// counters last), so PostgreSQL never breaks a deadlock between them.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { deadlocksIn, type TestDatabase } from '@vault/testkit';
import { applyMessages } from '../src/consumer/apply-messages.ts';
import { readCounters } from '../src/reports/store.ts';
import { busBatch, meteringDatabase } from './harness.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const batch = (partition: number, firstOffset: number, values: string[]) => busBatch(values, firstOffset, partition, NOW);

let ids = 0;
const addon = (subject: string, seq: number, type: string, time: string, data: object) =>
  JSON.stringify({ specversion: '1.0', id: `c${++ids}`, source: 'addon-service', type, time, subject, sequence: seq, data });
const provisioned = (subject: string, day: number) =>
  addon(subject, 1, 'addon.provisioned', `2026-10-${String(day).padStart(2, '0')}T00:00:00Z`, {
    app_id: 'app-c',
    service: 'heroku-redis',
    plan: 'mini',
  });

describe('metering: concurrent batches on two partitions (real PostgreSQL)', () => {
  let db: TestDatabase;
  after(() => db?.drop());

  test('a batch isolating a poison event and a batch holding a subject it needs: no deadlock, exact counters', async () => {
    db = await meteringDatabase();
    const before = await deadlocksIn(db.pool);
    const rounds = 40;
    let offsets = [0, 0];
    for (let r = 0; r < rounds; r++) {
      const [a, b] = [`addon-a-${r}`, `addon-b-${r}`];
      // Partition 0: a's event, then a subject whose times run backwards (refused by the
      // store, so the batch is applied event by event), then b's event.
      const poison = `addon-p-${r}`;
      const isolating = [
        provisioned(a, 1),
        addon(poison, 1, 'addon.provisioned', '2026-10-10T00:00:00Z', { app_id: 'app-c', service: 'heroku-redis', plan: 'mini' }),
        addon(poison, 2, 'addon.plan_changed', '2026-10-20T00:00:00Z', { app_id: 'app-c', plan: 'premium-0' }),
        addon(poison, 3, 'addon.plan_changed', '2026-10-15T00:00:00Z', { app_id: 'app-c', plan: 'premium-1' }),
        provisioned(b, 2),
      ];
      // Partition 1: b's later events (a re-send may land on any partition).
      const holding = [
        addon(b, 2, 'addon.plan_changed', '2026-10-05T00:00:00Z', { app_id: 'app-c', plan: 'premium-0' }),
        addon(b, 3, 'addon.plan_changed', '2026-10-06T00:00:00Z', { app_id: 'app-c', plan: 'premium-1' }),
      ];
      const [first, second] = await Promise.all([
        applyMessages(db.pool, batch(0, offsets[0]!, isolating), NOW),
        applyMessages(db.pool, batch(1, offsets[1]!, holding), NOW),
      ]);
      offsets = [offsets[0]! + isolating.length, offsets[1]! + holding.length];
      assert.equal(first.isolated, true);
      assert.equal(first.applied + second.applied, 6, `round ${r}: every event but the refused one applied`);
      assert.equal(first.rejected.length, 1);
    }
    assert.equal((await deadlocksIn(db.pool)) - before, 0, 'PostgreSQL broke no deadlock');
    assert.deepEqual(await readCounters(db.pool), { events_applied: rounds * 6, events_duplicate: 0, events_rejected: rounds });
  });

  test('the same ids under other subjects in two batches at once: each id stored once, the other copy rejected as reused, no deadlock', async () => {
    const reusing = await meteringDatabase();
    try {
      const before = await deadlocksIn(reusing.pool);
      const rounds = 20;
      for (let r = 0; r < rounds; r++) {
        // Both batches carry ids x and y, in opposite arrival orders, under subjects of their own.
        const event = (id: string, subject: string) =>
          JSON.stringify({
            specversion: '1.0',
            id: `${id}-${r}`,
            source: 'addon-service',
            type: 'addon.provisioned',
            time: '2026-10-01T00:00:00Z',
            subject,
            sequence: 1,
            data: { app_id: 'app-c', service: 'heroku-redis', plan: 'mini' },
          });
        const [first, second] = await Promise.all([
          applyMessages(reusing.pool, batch(0, r * 2, [event('x', `addon-x0-${r}`), event('y', `addon-y0-${r}`)]), NOW),
          applyMessages(reusing.pool, batch(1, r * 2, [event('y', `addon-y1-${r}`), event('x', `addon-x1-${r}`)]), NOW),
        ]);
        assert.equal(first.applied + second.applied, 2, `round ${r}: each id stored once`);
        assert.equal(first.rejected.length + second.rejected.length, 2, `round ${r}: each other copy rejected`);
        for (const rejected of [...first.rejected, ...second.rejected]) assert.equal(rejected.reasons[0]!.code, 'id_reused');
      }
      assert.equal((await deadlocksIn(reusing.pool)) - before, 0, 'PostgreSQL broke no deadlock');
      const { rows } = await reusing.pool.query<{ n: string }>(
        `select count(*)::text as n from metering.event_keys k join metering.events e using (source, id)`,
      );
      assert.equal(rows[0]!.n, String(rounds * 2), 'every stored key has its event');
    } finally {
      await reusing.drop();
    }
  });
});

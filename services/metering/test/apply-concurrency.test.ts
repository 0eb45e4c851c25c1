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
});

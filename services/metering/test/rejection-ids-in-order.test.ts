// Rejection ids are a sequence taken inside the consumer's batch transactions,
// and partitions' batches commit in parallel: a batch could commit id 102
// while 101 was still uncommitted, and a walk of GET /v1/rejected that passed
// 102 never saw 101. Batches keeping rejections now take one lock first.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { deadlocksIn, eventually, type TestDatabase } from '@vault/testkit';
import { applyBatch } from '../src/consumer/apply-batch.ts';
import { applyMessages } from '../src/consumer/apply-messages.ts';
import { judge } from '../src/domain/judge.ts';
import { listRejected, readMessageCounts } from '../src/reports/store.ts';
import { busBatch, meteringDatabases } from './harness.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const { db, dropAll } = meteringDatabases();

const provisioned = (id: string, subject: string, seq = 1, time = '2026-10-10T00:00:00Z') =>
  JSON.stringify({
    specversion: '1.0',
    id,
    source: 'addon-service',
    type: seq === 1 ? 'addon.provisioned' : 'addon.plan_changed',
    time,
    subject,
    sequence: seq,
    data: seq === 1 ? { app_id: 'app-o', service: 'heroku-redis', plan: 'mini' } : { app_id: 'app-o', plan: `premium-${seq}` },
  });

/** Sessions of this database waiting on an advisory lock. */
async function waitingOnAdvisory(d: TestDatabase): Promise<number> {
  const { rows } = await d.pool.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event = 'advisory'`,
  );
  return rows[0]!.n;
}

describe('rejection ids commit in id order (real PostgreSQL)', () => {
  after(dropAll);

  test('a batch keeping a rejection waits for one that took an id before it, so a walk of GET /v1/rejected passes none', async () => {
    const d = await db();
    const first = await d.pool.connect();
    try {
      await first.query('begin');
      const kept = await applyBatch(first, judge([{ bytes: Buffer.from('not json: first'), receivedAtMs: NOW }], NOW));
      assert.equal(kept.rejected.length, 1, 'the first batch took an id, uncommitted');
      let done = false;
      const second = applyMessages(d.pool, busBatch(['not json: second'], 0, 1, NOW), NOW).finally(() => {
        done = true;
      });
      await eventually('the second batch waiting on the lock, or committed', async () => done || (await waitingOnAdvisory(d)) === 1);
      const waited = !done;
      // A walker following next_after one row at a time, going on from where it stopped.
      const seen: string[] = [];
      let from = '0';
      const walk = async () => {
        for (;;) {
          const page = await listRejected(d.pool, { status: 'pending', limit: 1, after: from });
          for (const r of page.rejected) {
            seen.push(r.id);
            from = r.id;
          }
          if (page.nextAfter === null) return;
        }
      };
      await walk();
      await first.query('commit');
      await second;
      await walk();
      const { rows } = await d.pool.query<{ id: string }>('select id::text as id from metering.rejected_events order by id');
      assert.equal(rows.length, 2);
      assert.deepEqual(
        seen,
        rows.map((r) => r.id),
        'the walk saw every rejection once, in id order',
      );
      assert.ok(waited, 'the second batch waited for the first to commit');
    } finally {
      await first.query('rollback').catch(() => {});
      first.release();
    }
  });

  test('an isolating batch rejecting a reused id before it inserts a key another batch holds: it keeps its rejections last, no deadlock', async () => {
    const d = await db();
    const before = await deadlocksIn(d.pool);
    const rounds = 40;
    for (let r = 0; r < rounds; r++) await applyMessages(d.pool, busBatch([provisioned(`old-${r}`, `addon-old-${r}`)], r, 2, NOW), NOW);
    for (let r = 0; r < rounds; r++) {
      // Partition 0, event by event (the poison's times run backwards): first an id reused
      // (a rejection), then key k-r, which partition 1 inserts too before keeping its own rejection.
      const isolating = [
        provisioned(`old-${r}`, `addon-reuse-${r}`),
        provisioned(`p1-${r}`, `addon-p-${r}`, 1, '2026-10-10T00:00:00Z'),
        provisioned(`p2-${r}`, `addon-p-${r}`, 2, '2026-10-20T00:00:00Z'),
        provisioned(`p3-${r}`, `addon-p-${r}`, 3, '2026-10-15T00:00:00Z'),
        provisioned(`k-${r}`, `addon-k0-${r}`),
      ];
      const holding = [provisioned(`k-${r}`, `addon-k1-${r}`), `not json ${r}`];
      const [a] = await Promise.all([
        applyMessages(d.pool, busBatch(isolating, r * 5, 0, NOW), NOW),
        applyMessages(d.pool, busBatch(holding, r * 2, 1, NOW), NOW),
      ]);
      assert.equal(a.isolated, true);
    }
    assert.equal((await deadlocksIn(d.pool)) - before, 0, 'PostgreSQL broke no deadlock');
    const { totals } = await readMessageCounts(d.pool);
    assert.equal(totals.events_applied + totals.events_duplicate + totals.events_rejected, rounds * 8, 'every message counted once');
    const { rows } = await d.pool.query<{ n: number }>('select count(*)::int as n from metering.rejected_events');
    assert.equal(rows[0]!.n, totals.events_rejected);
  });
});

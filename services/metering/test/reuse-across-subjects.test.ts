// Issue 20: only the events of subjects with a history are looked up by key;
// an id of another subject's event reaches the keys' unique index, and the
// batch is applied again with every key looked up (applyRefusing). For random
// batches of a few ids shared by a few subjects, the verdicts must be those of
// arrival order (the first content of a key is stored, the same again is a
// duplicate, other content is reused, the same bytes rejected again a
// duplicate), every batch applied whole, and the usage the same as derived
// again from every stored event. REUSE_RUNS sets the number of runs (40).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { TestDatabase } from '@vault/testkit';
import { deriveStored } from '../src/consumer/derive-usage.ts';
import { applyRaw, meteringDatabase, usageOf } from './harness.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const RUNS = Number(process.env.REUSE_RUNS ?? 40);

interface Drawn {
  id: number;
  subject: number;
  sequence: number;
  hour: number;
  size: 'basic' | 'eco';
}

const drawn = fc.record({
  id: fc.integer({ min: 0, max: 5 }),
  subject: fc.integer({ min: 0, max: 3 }),
  sequence: fc.integer({ min: 1, max: 2 }),
  hour: fc.integer({ min: 0, max: 200 }),
  size: fc.constantFrom('basic' as const, 'eco' as const),
});

describe('ids shared across subjects, batch by batch (real PostgreSQL, fast-check)', () => {
  let db: TestDatabase;
  let run = 0;
  before(async () => (db = await meteringDatabase()));
  after(() => db?.drop());

  test('verdicts follow arrival order, every batch is applied whole, and usage equals usage derived from every stored event', {
    timeout: 240_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(drawn, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }), async (batches) => {
        const tag = `r${run++}`;
        const text = (d: Drawn) =>
          JSON.stringify({
            specversion: '1.0',
            id: `${tag}-e${d.id}`,
            source: 'dyno-manager',
            // A dyno starts as its event 1 and stops as its event 2.
            type: d.sequence === 1 ? 'dyno.started' : 'dyno.stopped',
            time: new Date(Date.parse('2026-10-01T00:00:00Z') + d.hour * 3_600_000).toISOString(),
            subject: `${tag}-dyno-${d.subject}`,
            sequence: d.sequence,
            data: d.sequence === 1 ? { app_id: 'app-1', name: 'web.1', size: d.size } : { app_id: 'app-1' },
          });
        // The model: the first content of each id, in arrival order; the same bytes
        // rejected again are a duplicate of that rejection (kept once).
        const first = new Map<string, string>();
        const rejectedBefore = new Set<string>();
        for (const batch of batches) {
          const expected = { applied: 0, duplicates: 0, reused: [] as string[] };
          for (const d of batch) {
            const key = `${tag}-e${d.id}`;
            const seen = first.get(key);
            if (seen === undefined) {
              first.set(key, text(d));
              expected.applied++;
            } else if (seen === text(d) || rejectedBefore.has(text(d))) expected.duplicates++;
            else {
              rejectedBefore.add(text(d));
              expected.reused.push(key);
            }
          }
          const result = await applyRaw(db, batch.map(text), NOW);
          assert.equal(
            result.isolated,
            false,
            `applied whole, never event by event: ${JSON.stringify(result.rejected.map((r) => r.reasons))}`,
          );
          assert.equal(result.applied, expected.applied, JSON.stringify(result.rejected.map((r) => r.reasons)));
          assert.equal(result.applied, expected.applied);
          assert.equal(result.duplicates, expected.duplicates);
          assert.deepEqual(
            result.rejected.map((r) => [r.eventId, r.reasons.map((x) => x.code).join()]).sort(),
            expected.reused.map((id) => [id, 'id_reused']).sort(),
          );
        }
        const stored = await db.pool.query<{ id: string; subject: string; data: object; sequence: string }>(
          `select id, subject, data, sequence::text from metering.events where id like $1 order by id`,
          [`${tag}-%`],
        );
        assert.deepEqual(
          stored.rows.map((r) => [r.id, r.subject, r.sequence, r.data]),
          [...first]
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([id, t]) => {
              const e = JSON.parse(t);
              return [id, e.subject, String(e.sequence), e.data];
            }),
        );
        // Usage from the batches equals usage derived again from every stored event.
        const subjects = [0, 1, 2, 3].map((s) => `${tag}-dyno-${s}`);
        const perBatch = (await usageOf(db)).intervals.filter((i) => i.subject.startsWith(`${tag}-`));
        const client = await db.pool.connect();
        try {
          await client.query('begin');
          await deriveStored(client, subjects);
          const again = await client.query(
            `select subject, key, product, lower(during)::text as from, upper(during)::text as to
               from metering.usage_intervals where subject like $1 order by subject, lower(during)`,
            [`${tag}-%`],
          );
          assert.deepEqual(
            perBatch.map((i) => [i.subject, i.key, i.product, i.from, i.to]),
            again.rows.map((i) => [i.subject, i.key, i.product, i.from, i.to]),
          );
        } finally {
          await client.query('rollback');
          client.release();
        }
      }),
      { numRuns: RUNS },
    );
  });
});

// Usage derived per batch from the insert's own rows plus the subjects' earlier
// events (storeAndDerive, issue 20) must equal the first form of the
// derivation, which reads every event of the subjects back from the table
// (deriveStored): for random streams with late, duplicate, out-of-order and
// re-used events, garbage, and events that never arrive (gaps), batch by batch.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type pg from 'pg';
import type { TestDatabase } from '@vault/testkit';
import { applyMessages } from '../src/consumer/apply-messages.ts';
import { deriveStored } from '../src/consumer/derive-usage.ts';
import { plan, RUN, type Plan } from './arbitraries.ts';
import { busBatch, meteringDatabase } from './harness.ts';

let runs = 0;
const nextTag = () => `d${(runs++).toString(36).padStart(4, '0')}`.slice(0, RUN.length).padEnd(RUN.length, 'y');

function instantiate(value: unknown, tag: string): unknown {
  if (typeof value === 'string') return value.replaceAll(RUN, tag);
  if (Array.isArray(value)) return value.map((v) => instantiate(v, tag));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, instantiate(v, tag)]));
  }
  return value;
}

/** Everything derived for the subjects, learned_at and unreliable_from included, in a stable order. */
async function derived(db: pg.Pool | pg.PoolClient, subjects: string[]) {
  const intervals = await db.query(
    `select subject, kind, app_id, key, product, during::text, learned_at::text
       from metering.usage_intervals where subject = any($1::text[]) order by subject, lower(during)`,
    [subjects],
  );
  const owners = await db.query(
    `select app_id, account_id, during::text, learned_at::text
       from metering.app_ownership where app_id = any($1::text[]) order by app_id, lower(during)`,
    [subjects],
  );
  const gaps = await db.query(
    `select subject, app_id, missing_sequence::text, unreliable_from::text
       from metering.subject_gaps where subject = any($1::text[]) order by subject`,
    [subjects],
  );
  return { intervals: intervals.rows, owners: owners.rows, gaps: gaps.rows };
}

describe('usage derived from the batch equals usage derived from every stored event (real PostgreSQL, fast-check)', () => {
  let db: TestDatabase;
  before(async () => (db = await meteringDatabase()));
  after(() => db?.drop());

  test('for random streams cut into batches (late, duplicate, out-of-order, re-used, missing events), row for row', {
    timeout: 240_000,
  }, async () => {
    let partition = 0;
    await fc.assert(
      fc.asyncProperty(plan(Date.now() + 3_600_000), fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }), async (p: Plan, keep) => {
        const tag = nextTag();
        // Some valid events never arrive: their subjects keep a gap.
        const items = p.items.filter((item, i) => item.kind !== 'valid' || keep[i % keep.length] || i % 3 !== 0);
        const values = items.map((item) =>
          item.kind === 'invalid' && item.bytes ? Buffer.from(item.bytes) : JSON.stringify(instantiate(item.value, tag)),
        );
        const bounds = [0, ...p.cuts.filter((c) => c < values.length), values.length];
        const part = partition++;
        for (let c = 0; c + 1 < bounds.length; c++) {
          const chunk = values.slice(bounds[c], bounds[c + 1]);
          if (chunk.length === 0) continue;
          // A chunk per transaction: each has its own received_at, so learned_at is tested too.
          await applyMessages(db.pool, busBatch(chunk, bounds[c]!, part, Date.now()), Date.now());
        }
        const subjects = p.entities.map((e) => e.subject.replaceAll(RUN, tag));
        const perBatch = await derived(db.pool, subjects);
        const client = await db.pool.connect();
        try {
          await client.query('begin');
          await deriveStored(client, subjects);
          const fromStored = await derived(client, subjects);
          assert.deepEqual(perBatch, fromStored);
        } finally {
          await client.query('rollback');
          client.release();
        }
      }),
      { numRuns: 60 },
    );
  });
});

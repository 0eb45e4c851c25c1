// Usage derived per batch from the insert's own rows plus the subjects' earlier
// events (storeAndDerive, issue 20) must equal the first form of the
// derivation, which reads every event of the subjects back from the table
// (deriveStored): for random streams with late, duplicate, out-of-order and
// re-used events, garbage, and events that never arrive (gaps), batch by batch.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
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

  test('new subjects derived by metering (newSubjectUsage), alone and beside the SQL in one statement, row for row', async () => {
    const tag = nextTag();
    const event = (subject: string, type: string, sequence: number, time: string, data: object) =>
      JSON.stringify({
        specversion: '1.0',
        id: `${tag}-${subject}-${sequence}-${type}`,
        source: 'edge',
        type,
        time,
        subject: `${tag}-${subject}`,
        sequence,
        data,
      });
    const app = `${tag}-app`;
    const dyno = (subject: string, start: string, stop?: string) => [
      event(subject, 'dyno.started', 1, start, { app_id: app, name: `web.${subject}`, size: 'basic' }),
      ...(stop ? [event(subject, 'dyno.stopped', 2, stop, { app_id: app })] : []),
    ];
    const batches = [
      [
        // Stopped at the very instant it started, and within the same microsecond: no interval.
        ...dyno('same', '2026-11-02T10:00:00Z', '2026-11-02T10:00:00Z'),
        ...dyno('sub-us', '2026-11-02T10:00:00.0000001Z', '2026-11-02T10:00:00.0000004Z'),
        // An offset on one bound, UTC on the other.
        ...dyno('offset', '2026-11-02T12:00:00+02:00', '2026-11-02T10:30:00.5Z'),
        // Out of order within the batch.
        event('addon', 'addon.deprovisioned', 3, '2026-11-03T00:00:00Z', { app_id: app }),
        event('addon', 'addon.plan_changed', 2, '2026-11-02T12:00:00Z', { app_id: app, plan: 'standard-0' }),
        event('addon', 'addon.provisioned', 1, '2026-11-02T10:00:00Z', { app_id: app, service: 'heroku-redis', plan: 'mini' }),
        event('app', 'app.owner_changed', 2, '2026-11-02T11:00:00Z', { app_id: app, account_id: `${tag}-acct-2` }),
        event('app', 'app.owner_changed', 1, '2026-11-02T09:00:00Z', { app_id: app, account_id: `${tag}-acct-1` }),
        // A hole: left to the SQL, in the same statement.
        event('holed', 'addon.plan_changed', 2, '2026-11-02T12:00:00Z', { app_id: app, plan: 'standard-0' }),
        ...dyno('later', '2026-11-02T10:00:00Z'),
      ],
      // A subject with a history beside new ones, then new ones alone.
      [
        ...dyno('later', '2026-11-02T10:00:00Z', '2026-11-02T18:00:00Z').slice(1),
        ...dyno('second', '2026-11-02T13:00:00Z', '2026-11-02T14:00:00Z'),
      ],
      [...dyno('third', '2026-11-02T15:00:00Z', '2026-11-02T16:00:00Z'), ...dyno('open', '2026-11-02T15:00:00Z')],
    ];
    const part = 1_000_000 + runs;
    let offset = 0;
    // One connection, so the statements it prepared say which forms ran.
    const one = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      for (const values of batches) {
        const result = await applyMessages(one, busBatch(values, offset, part, Date.now()), Date.now());
        // Whole: a row the store refused would have sent the batch event by event.
        assert.deepEqual([result.isolated, result.applied, result.rejected], [false, values.length, []]);
        offset += values.length;
      }
      const { rows } = await one.query<{ name: string }>(
        `select name from pg_prepared_statements where name like 'metering.%derive%' order by 1`,
      );
      assert.deepEqual(
        rows.map((r) => r.name),
        ['metering.derive-some', 'metering.store-derived'],
      );
    } finally {
      await one.end();
    }
    const names = ['same', 'sub-us', 'offset', 'addon', 'app', 'holed', 'later', 'second', 'third', 'open'];
    const subjects = names.map((n) => `${tag}-${n}`);
    const perBatch = await derived(db.pool, subjects);
    assert.equal(perBatch.intervals.length, 7, 'offset, two add-on plans, later, second, third, open');
    assert.equal(perBatch.owners.length, 2);
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await deriveStored(client, subjects);
      assert.deepEqual(perBatch, await derived(client, subjects));
    } finally {
      await client.query('rollback');
      client.release();
    }
  });
});

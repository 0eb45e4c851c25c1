// A key claimed before its content's hash changed (`time` hashed as written, or with
// `datacontenttype`) holds the hash of then. The store refusing that event compared only the
// new hash: the claim stayed live, so its fix under the id was answered `id reused` though it
// was published and applied, and a re-submit refused between its publish and its resolve was
// resolved, the event lost with nothing pending (real PostgreSQL).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { parseEvent } from '@vault/contracts';
import type { TestDatabase } from '@vault/testkit';
import { judge } from '../src/domain/judge.ts';
import { referenceContentHash } from '../src/domain/judge-reference.ts';
import { claimKeys, claimOf } from '../src/intake/claims.ts';
import { getRejected } from '../src/reports/store.ts';
import { applyRaw, meteringDatabases } from './harness.ts';
import { addonEvent, keepExactly, resubmit, routesOnly } from './resubmit-fixture.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const { db, dropAll } = meteringDatabases();
const closing: (() => Promise<void>)[] = [];

const event = addonEvent;
/** An add-on's plan changes, the first two stored; the third's instant before the second's, its time written +02:00: the store refuses it. */
async function overlapping(d: TestDatabase, s: string) {
  await applyRaw(
    d,
    [
      event(s, 1, 'addon.provisioned', '2026-10-10T00:00:00Z', { app_id: 'app-1', service: 'heroku-redis', plan: 'mini' }),
      event(s, 2, 'addon.plan_changed', '2026-10-20T00:00:00Z', { app_id: 'app-1', plan: 'premium-0' }),
    ].map((e) => JSON.stringify(e)),
    NOW,
  );
  const third = event(s, 3, 'addon.plan_changed', '2026-10-15T02:00:00+02:00', { app_id: 'app-1', plan: 'premium-1' });
  return { raw: JSON.stringify(third), third, fix: { ...third, time: '2026-10-25T00:00:00Z' } };
}

/** The hashes the judge gave the event before: `time` as written, and that with `datacontenttype` too. */
function hashesOfThen(raw: string): Record<'time as written' | 'datacontenttype', string> {
  const parsed = parseEvent(raw, { now: NOW });
  assert.ok(parsed.ok);
  return {
    'time as written': referenceContentHash(parsed.event),
    datacontenttype: referenceContentHash({ ...parsed.event, datacontenttype: 'application/json' }),
  };
}

const claimAsThen = (d: TestDatabase, raw: string, hash: string) => {
  const { source, id } = JSON.parse(raw) as { source: string; id: string };
  return d.pool.query('insert into metering.intake_claims (source, id, content_hash, claim) values ($1, $2, $3, gen_random_uuid())', [
    source,
    id,
    hash,
  ]);
};

const candidate = (raw: string) => {
  const v = judge([{ bytes: Buffer.from(raw), receivedAtMs: NOW }], NOW).valid[0]!;
  return { source: v.event.source, id: v.event.id, contentHash: v.contentHash };
};

describe('a claim by a legacy hash, its event then refused by the store (real PostgreSQL)', () => {
  after(async () => {
    await Promise.all(closing.map((close) => close()));
    await dropAll();
  });

  for (const legacy of ['time as written', 'datacontenttype'] as const) {
    test(`claimed by its hash of then (${legacy}): the refusal marks that claim refused, its hash kept; the fix takes the key`, async () => {
      const d = await db();
      const { raw, fix } = await overlapping(d, 'addon-l');
      const then = hashesOfThen(raw)[legacy];
      assert.notEqual(then, candidate(raw).contentHash, 'hashed otherwise now');
      await claimAsThen(d, raw, then);
      const result = await applyRaw(d, [raw], NOW);
      assert.deepEqual(
        result.rejected.map((r) => r.reasons[0]?.code),
        ['store_refused'],
      );
      assert.deepEqual(await claimOf(d.pool, { source: 'addon-service', id: 'addon-l-3' }), { contentHash: then, refused: true });
      const fixed = candidate(JSON.stringify(fix));
      assert.deepEqual(
        await claimKeys(d.pool, [fixed]),
        [{ ours: true, contentHash: fixed.contentHash }],
        'the fix, same id, is accepted: not id reused',
      );
    });
  }

  test('a re-submit as it was, refused between its publish and its resolve, its key claimed by the hash of then: 422, the row pending', async () => {
    const d = await db();
    const { raw, third } = await overlapping(d, 'addon-r');
    const id = await keepExactly(d, raw, { field: 'time', code: 'time_in_future', message: 'then' });
    const then = hashesOfThen(raw)['time as written'];
    await claimAsThen(d, raw, then);
    const app = await routesRefusing(d);
    const res = await resubmit(app, id);
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.json().reasons[0].code, 'store_refused', res.body);
    assert.equal((await getRejected(d.pool, id))?.resolved_at, null, 'pending: nothing of it was applied');
    assert.deepEqual(await claimOf(d.pool, third), { contentHash: then, refused: true });
  });
});

/** The routes alone over the embedded bus; once a publish is durable, the consumer's step applies it (no consumer else). */
async function routesRefusing(d: TestDatabase) {
  const { app, afterPublish } = await routesOnly(d, closing);
  afterPublish(async (messages) => {
    const consumed = await applyRaw(
      d,
      messages.map((m) => m.value.toString()),
      NOW,
    );
    assert.deepEqual([consumed.applied, consumed.duplicates], [0, 1], 'refused again: a duplicate of the kept row');
  });
  return app;
}

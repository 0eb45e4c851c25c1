// A claimed event the store refused later (usage running backwards into an
// overlap, a horizon moved or a subject archived while it waited on the bus)
// used to keep its claim: its fix, same id, was published and then answered
// 422 "id reused" while the consumer applied it, the rejection left pending.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { judge } from '../src/domain/judge.ts';
import { referenceContentHash } from '../src/domain/judge-reference.ts';
import { claimKeys, claimOf } from '../src/intake/claims.ts';
import { listRejected, readCounters } from '../src/reports/store.ts';
import { migrate } from '@vault/db';
import { parseEvent } from '@vault/contracts';
import { AUTH, applyRaw, MIGRATIONS, meteringDatabaseBefore, meteringDatabases, settled, startMetering, type Metering } from './harness.ts';
import { keepExactly, resubmit, routesOnly } from './resubmit-fixture.ts';

const LONG = { timeout: 120_000 };
const NOW = Date.parse('2026-11-01T00:00:00Z');
const { db, dropAll } = meteringDatabases();
const running: Metering[] = [];
const closing: (() => Promise<void>)[] = [];

const event = (id: string, subject: string, sequence: number, type: string, time: string, data: object) => ({
  specversion: '1.0',
  id,
  source: 'addon-service',
  type,
  time,
  subject,
  sequence,
  data,
});
/** An add-on's plan changes; the third timed before the second, so its usage would overlap: the store refuses it. */
const plans = (subject: string) => [
  event(`${subject}-1`, subject, 1, 'addon.provisioned', '2026-10-10T00:00:00Z', {
    app_id: 'app-1',
    service: 'heroku-redis',
    plan: 'mini',
  }),
  event(`${subject}-2`, subject, 2, 'addon.plan_changed', '2026-10-20T00:00:00Z', { app_id: 'app-1', plan: 'premium-0' }),
  event(`${subject}-3`, subject, 3, 'addon.plan_changed', '2026-10-15T00:00:00Z', { app_id: 'app-1', plan: 'premium-1' }),
];
const fixed = (subject: string) => ({ ...plans(subject)[2]!, time: '2026-10-25T00:00:00Z' });
const ndjson = (events: object[]) => events.map((e) => JSON.stringify(e)).join('\n');

async function refusedAfterClaim(subject: string): Promise<{ m: Metering; kept: { id: string } }> {
  const m = await startMetering('embedded');
  running.push(m);
  const res = await post(m, ndjson(plans(subject)));
  assert.deepEqual(res.json(), { accepted: 3, duplicates: 0, rejected: [] }, 'the intake cannot see the overlap: all three claimed');
  await settled(m, 2, 0, 1);
  const [kept] = (await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json().rejected;
  assert.equal(kept.event_id, `${subject}-3`);
  assert.equal(kept.reasons[0].code, 'store_refused');
  return { m, kept };
}

const post = (m: Metering, body: string) =>
  m.http.inject({ method: 'POST', url: '/v1/events', headers: { ...AUTH, 'content-type': 'application/x-ndjson' }, payload: body });
const routes = async () => routesOnly(await db(), closing);

describe('re-submitting an event the store refused after the intake claimed it (real PostgreSQL)', () => {
  after(async () => {
    await Promise.all([...running.map((m) => m.close()), ...closing.map((close) => close())]);
    await dropAll();
  });

  test(
    'fixed with the same id it is applied once and marked resolved; as it was it is refused with 422, nothing published',
    LONG,
    async () => {
      const { m, kept } = await refusedAfterClaim('addon-r');
      const asItWas = await resubmit(m, kept.id);
      assert.equal(asItWas.statusCode, 422, asItWas.body);
      assert.match(asItWas.json().error, /^still rejected: the store refused this very event/);
      const res = await resubmit(m, kept.id, fixed('addon-r'));
      assert.equal(res.statusCode, 202, res.body);
      assert.deepEqual(res.json(), { resolved_by: 'addon-service/addon-r-3', duplicate: false });
      await settled(m, 3, 0, 1);
      const pending = (await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json().rejected;
      assert.deepEqual(pending, [], 'resolved, as it was applied');
    },
  );

  test('a fix posted to POST /v1/events with the refused id is accepted, not answered as a reused id', LONG, async () => {
    const { m } = await refusedAfterClaim('addon-s');
    const res = await post(m, JSON.stringify(fixed('addon-s')));
    assert.deepEqual(res.json(), { accepted: 1, duplicates: 0, rejected: [] });
    await settled(m, 3, 0, 1);
  });

  test('a refusal committed before the answer claims (the consumer read the publish first) frees the key all the same', async () => {
    const d = await db();
    const raws = plans('addon-t').map((e) => JSON.stringify(e));
    const result = await applyRaw(d, raws, NOW);
    assert.deepEqual(
      result.rejected.map((r) => r.reasons[0]?.code),
      ['store_refused'],
    );
    const key = (raw: string) => {
      const v = judge([{ bytes: Buffer.from(raw), receivedAtMs: NOW }], NOW).valid[0]!;
      return { source: v.event.source, id: v.event.id, contentHash: v.contentHash };
    };
    const late = await claimKeys(d.pool, [key(raws[2]!)]);
    assert.equal(late[0]!.ours, false, 'the late claim of the refused content is a duplicate: it is the refused event');
    const fix = key(JSON.stringify(fixed('addon-t')));
    assert.deepEqual(await claimKeys(d.pool, [fix]), [{ ours: true, contentHash: fix.contentHash }], 'the fix takes the key');
    assert.deepEqual(await claimKeys(d.pool, [fix]), [{ ours: false, contentHash: fix.contentHash }], 'then holds it');
  });

  test('migration 021 marks refused the claims an earlier store refusal left live, and no other', async () => {
    const d = await meteringDatabaseBefore('metering_021', '021');
    closing.push(() => d.drop());
    await d.pool.query(
      `insert into metering.intake_claims (source, id, content_hash, claim)
       select 's', k, 'h', gen_random_uuid() from unnest(array['refused', 'stored', 'pending']) k`,
    );
    await d.pool.query(`insert into metering.event_keys (source, id, content_hash) values ('s', 'stored', '\\x00')`);
    await d.pool.query(
      `insert into metering.rejected_events (raw, raw_bytes, raw_hash, reasons, source, event_id)
       select k, convert_to(k, 'UTF8'), k, $1, 's', k from unnest(array['refused', 'stored']) k`,
      [JSON.stringify([{ field: '', code: 'store_refused', message: 'overlap' }])],
    );
    await migrate(d.pool, 'metering', MIGRATIONS);
    const { rows } = await d.pool.query('select id, refused from metering.intake_claims order by id');
    assert.deepEqual(rows, [
      { id: 'pending', refused: false },
      { id: 'refused', refused: true },
      { id: 'stored', refused: false },
    ]);
  });

  test('an id another answer holds with other content is refused with 422 before anything is published', async () => {
    const { app, published, d, keep } = await routes();
    const kept = await keep(fixed('addon-u'));
    await d.pool.query(
      `insert into metering.intake_claims (source, id, content_hash, claim) values ($1, $2, 'in-flight', gen_random_uuid())`,
      ['addon-service', 'addon-u-3'],
    );
    const res = await resubmit(app, kept, fixed('addon-u'));
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.json().error, 'still rejected: id: id reused with different content');
    assert.equal(published.length, 0, 'a 422 means nothing was published');
  });

  test('re-submitted as it was, then refused by the store after its 202 (overlapping usage, the horizon moved): pending again under a new id, counted a rejection, its claim refused', async () => {
    for (const horizon of [false, true]) {
      const { app, published, d } = await routes();
      const s = horizon ? 'addon-h' : 'addon-o';
      const [first, second, third] = plans(s);
      const original = horizon ? first! : third!;
      if (!horizon) await applyRaw(d, [JSON.stringify(first), JSON.stringify(second)], NOW);
      // Kept once for a reason since gone (its time was in the future then): valid now, re-sent as it was.
      const old = await keepExactly(d, JSON.stringify(original), { field: 'time', code: 'time_in_future', message: 'test' });
      const res = await resubmit(app, old);
      assert.equal(res.statusCode, 202, res.body);
      assert.deepEqual(res.json(), { resolved_by: `addon-service/${original.id}`, duplicate: false });
      if (horizon) await d.pool.query(`insert into metering.usage_horizon (month) values ('2026-11-01')`);
      const before = await readCounters(d.pool);
      const result = await applyRaw(
        d,
        published.flat().map((m) => m.value.toString()),
        NOW,
      );
      assert.deepEqual([result.applied, result.duplicates, result.rejected.map((r) => r.reasons[0]!.code)], [0, 0, ['store_refused']], s);
      const counters = await readCounters(d.pool);
      assert.equal(counters.events_rejected - before.events_rejected, 1, `${s}: counted a rejection`);
      assert.equal(counters.events_duplicate, before.events_duplicate, `${s}: not a duplicate`);
      // A walker that already passed the old id finds it again.
      const pending = (await listRejected(d.pool, { status: 'pending', limit: 10, after: old })).rejected;
      assert.deepEqual(
        pending.map((r) => [r.event_id, r.reasons[0]!.code]),
        [[original.id, 'store_refused']],
        s,
      );
      const all = (await listRejected(d.pool, { status: 'all', limit: 10, after: '0' })).rejected.map((r) => r.id);
      assert.deepEqual(all, [pending[0]!.id], `${s}: the resolved row replaced`);
      assert.equal((await claimOf(d.pool, { source: 'addon-service', id: original.id }))?.refused, true, s);
      const again = await resubmit(app, pending[0]!.id);
      assert.equal(again.statusCode, 422, again.body);
      const fix = horizon ? { ...original, time: '2026-11-01T00:00:00Z' } : fixed(s);
      const posted = await app.http.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { ...AUTH, 'content-type': 'application/json' },
        payload: JSON.stringify(fix),
      });
      assert.deepEqual(posted.json(), { accepted: 1, duplicates: 0, rejected: [] }, `${s}: its fix is accepted, not "id reused"`);
      assert.equal((await applyRaw(d, [published.at(-1)![0]!.value.toString()], NOW)).applied, 1, s);
    }
  });

  test('the original bytes re-sent after a fix with the same id was applied stay a duplicate: the resolved rejection is not reopened', async () => {
    const { app, published, d } = await routes();
    const overlapping = plans('addon-q').map((e) => JSON.stringify(e));
    // Refused by the judge (U+0000), before any look at stored keys.
    const nul = event('app-n-1', 'app-n', 1, 'app.owner_changed', '2026-10-10T00:00:00Z', { app_id: 'app-n', account_id: 'acct\u0000n' });
    const first = await applyRaw(d, [...overlapping, JSON.stringify(nul)], NOW);
    assert.deepEqual(
      first.rejected.map((r) => r.reasons[0]!.code),
      ['store_refused', 'store_refused'],
    );
    const kept = (await listRejected(d.pool, { status: 'pending', limit: 10, after: '0' })).rejected;
    const fixes: Record<string, object> = {
      'addon-q-3': fixed('addon-q'),
      'app-n-1': { ...nul, data: { app_id: 'app-n', account_id: 'acct-n' } },
    };
    assert.deepEqual(kept.map((r) => r.event_id).sort(), Object.keys(fixes).sort());
    for (const r of kept) assert.equal((await resubmit(app, r.id, fixes[r.event_id!])).statusCode, 202);
    assert.equal(
      (
        await applyRaw(
          d,
          published.flat().map((m) => m.value.toString()),
          NOW,
        )
      ).applied,
      2,
    );
    const before = await readCounters(d.pool);
    const resent = await applyRaw(d, [overlapping[2]!, JSON.stringify(nul)], NOW);
    assert.deepEqual([resent.applied, resent.duplicates, resent.rejected.length], [0, 2, 0]);
    const counters = await readCounters(d.pool);
    assert.equal(counters.events_duplicate - before.events_duplicate, 2);
    assert.equal(counters.events_rejected, before.events_rejected);
    const resolved = (await listRejected(d.pool, { status: 'all', limit: 10, after: '0' })).rejected;
    assert.deepEqual(
      resolved.map((r) => [r.id, r.resolved_by]),
      kept.map((r) => [r.id, `addon-service/${r.event_id}`]),
      'the same rows, still resolved',
    );
  });

  test('the original bytes re-sent and refused while their fix (same id, other content) is claimed but not applied yet: the resolved rejection is not reopened', async () => {
    const { app, published, d } = await routes();
    const overlapping = plans('addon-f').map((e) => JSON.stringify(e));
    assert.deepEqual(
      (await applyRaw(d, overlapping, NOW)).rejected.map((r) => r.reasons[0]!.code),
      ['store_refused'],
    );
    const [kept] = (await listRejected(d.pool, { status: 'pending', limit: 10, after: '0' })).rejected;
    assert.equal((await resubmit(app, kept!.id, fixed('addon-f'))).statusCode, 202);
    // The publisher sends the original again before the fix is applied: refused again, a duplicate of the resolved row.
    const resent = await applyRaw(d, [overlapping[2]!], NOW);
    assert.deepEqual([resent.applied, resent.duplicates, resent.rejected.length], [0, 1, 0]);
    const rows = (await listRejected(d.pool, { status: 'all', limit: 10, after: '0' })).rejected;
    assert.deepEqual(
      rows.map((r) => [r.id, r.resolved_by]),
      [[kept!.id, `addon-service/${kept!.event_id}`]],
      'still resolved: a re-submit of it would be "id reused", and one under another id would bill twice',
    );
    assert.equal((await applyRaw(d, [published.flat().at(-1)!.value.toString()], NOW)).applied, 1, 'the fix applied');
  });

  test('a claim of the same event by its hash of before (datacontenttype hashed, since left out): refused it is refused before, live a duplicate, never a reuse', async () => {
    const { app, published, d, keep } = await routes();
    const claimed = async (e: object, refused: boolean) => {
      const parsed = parseEvent(JSON.stringify(e), { now: Date.now() });
      assert.ok(parsed.ok);
      const { id, source } = parsed.event;
      await d.pool.query(
        `insert into metering.intake_claims (source, id, content_hash, claim, refused) values ($1, $2, $3, gen_random_uuid(), $4)`,
        [source, id, referenceContentHash(parsed.event), refused],
      );
    };
    const refusedOne = { ...fixed('addon-w'), datacontenttype: 'application/json' };
    await claimed(refusedOne, true);
    const again = await resubmit(app, await keep(refusedOne), refusedOne);
    assert.equal(again.statusCode, 422, again.body);
    assert.match(again.json().error, /^still rejected: the store refused this very event/);
    assert.equal(published.length, 0);
    const live = { ...fixed('addon-x'), datacontenttype: 'application/json' };
    await claimed(live, false);
    const copy = await resubmit(app, await keep(live), live);
    assert.equal(copy.statusCode, 202, copy.body);
    assert.deepEqual(copy.json(), { resolved_by: 'addon-service/addon-x-3', duplicate: true });
  });

  test('another answer claiming the id between the look and the claim: 409 saying it was published, the rejection pending', async () => {
    const { app, published, d, keep, before } = await routes();
    const kept = await keep(fixed('addon-v'));
    before(() =>
      d.pool.query(`insert into metering.intake_claims (source, id, content_hash, claim) values ($1, $2, 'other', gen_random_uuid())`, [
        'addon-service',
        'addon-v-3',
      ]),
    );
    const res = await resubmit(app, kept, fixed('addon-v'));
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.json().published, true);
    assert.equal(published.length, 1);
    const { rows } = await d.pool.query('select resolved_at from metering.rejected_events where id = $1', [kept]);
    assert.equal(rows[0].resolved_at, null);
  });
});

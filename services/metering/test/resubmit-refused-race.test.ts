// A rejection re-submitted as it was (kept first for a reason since gone, e.g. a
// time then in the future) is published, its key claimed, then marked resolved.
// When the consumer refused it (overlapping usage, the horizon moved) before that
// last step, the refusal was a duplicate of the pending row, its claim left live,
// and the row was then resolved: the event lost, nothing pending.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type pg from 'pg';
import type { Bus, OutgoingMessage } from '@vault/bus';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually, uniqueName, type TestDatabase } from '@vault/testkit';
import { meteringRoutes } from '../src/app.ts';
import { applyRefusing } from '../src/consumer/apply-messages.ts';
import { judge } from '../src/domain/judge.ts';
import { claimKeys, claimOf } from '../src/intake/claims.ts';
import { getRejected, markResolved, readCounters } from '../src/reports/store.ts';
import { ADMIN, AUTH, applyRaw, meteringDatabases, openBus } from './harness.ts';
import { addonEvent } from './resubmit-fixture.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const { db, dropAll } = meteringDatabases();
const closing: (() => Promise<void>)[] = [];

const event = addonEvent;
/** An add-on's plan changes; the third timed before the second, so its usage would overlap. */
const plans = (s: string) => [
  event(s, 1, 'addon.provisioned', '2026-10-10T00:00:00Z', { app_id: 'app-1', service: 'heroku-redis', plan: 'mini' }),
  event(s, 2, 'addon.plan_changed', '2026-10-20T00:00:00Z', { app_id: 'app-1', plan: 'premium-0' }),
  event(s, 3, 'addon.plan_changed', '2026-10-15T00:00:00Z', { app_id: 'app-1', plan: 'premium-1' }),
];
const HORIZON = `insert into metering.usage_horizon (month) values ('2026-11-01')`;

/**
 * Refused by the store once re-sent: by the overlap (the batch isolated, event by event)
 * or by a horizon moved after the intake's look (`refuse`, the archive's check). Kept as
 * it was, for a time once in the future; returns the row's id and the fix the store takes.
 */
async function keptAsItWas(d: TestDatabase, horizon: boolean) {
  const s = horizon ? 'addon-h' : 'addon-o';
  const [first, second, third] = plans(s);
  if (!horizon) await applyRaw(d, [JSON.stringify(first), JSON.stringify(second)], NOW);
  const original = horizon ? first! : third!;
  const raw = JSON.stringify(original);
  const { rows } = await d.pool.query<{ id: string }>(
    `insert into metering.rejected_events (raw, raw_bytes, raw_hash, reasons, source, event_id)
     values ($1, convert_to($1, 'UTF8'), $2, $3, 'addon-service', $4) returning id::text`,
    [
      raw,
      createHash('sha256').update(raw).digest('hex'),
      JSON.stringify([{ field: 'time', code: 'time_in_future', message: 'then' }]),
      original.id,
    ],
  );
  const fix = horizon ? { ...original, time: '2026-11-01T00:00:00Z' } : { ...original, time: '2026-10-25T00:00:00Z' };
  return { s, id: rows[0]!.id, raw, original, fix, refuse: async () => (horizon ? void (await d.pool.query(HORIZON)) : undefined) };
}

describe('the store refusing a re-submitted event before its rejection is resolved (real PostgreSQL)', () => {
  after(async () => {
    await Promise.all(closing.map((close) => close()));
    await dropAll();
  });

  test('refused between the publish and the resolve (before or after the claim): 422 with the store reason, the row pending, the claim refused, counted a duplicate; its fix under the id is applied', async () => {
    for (const horizon of [false, true]) {
      for (const when of ['after the claim', 'before the claim'] as const) {
        const { app, published, d, hooks } = await routes();
        const kept = await keptAsItWas(d, horizon);
        const label = `${kept.s}, ${when}`;
        const before = await readCounters(d.pool);
        let consumed: Awaited<ReturnType<typeof applyRaw>> | undefined;
        hooks[when === 'after the claim' ? 'afterClaim' : 'afterPublish'] = async () => {
          await kept.refuse();
          consumed = await applyRaw(
            d,
            published.flat().map((m) => m.value.toString()),
            NOW,
          );
        };
        const res = await resubmit(app, kept.id);
        hooks.afterClaim = hooks.afterPublish = async () => {};
        assert.equal(res.statusCode, 422, `${label}: ${res.body}`);
        assert.equal(published.length, 1, label);
        assert.deepEqual([consumed?.applied, consumed?.duplicates, consumed?.rejected.length], [0, 1, 0], label);
        const row = await getRejected(d.pool, kept.id);
        assert.ok(row, label);
        assert.equal(row.resolved_at, null, `${label}: still pending, under its id`);
        assert.deepEqual(
          row.reasons.map((r) => r.code),
          ['store_refused'],
          `${label}: the row shows the store's reason now`,
        );
        assert.deepEqual(res.json(), { error: `still rejected: ${row.reason}`, reasons: row.reasons }, label);
        assert.equal((await claimOf(d.pool, { source: 'addon-service', id: kept.original.id }))?.refused, true, `${label}: claim refused`);
        const counters = await readCounters(d.pool);
        assert.deepEqual(
          [counters.events_applied, counters.events_duplicate, counters.events_rejected],
          [before.events_applied, before.events_duplicate + 1, before.events_rejected],
          `${label}: a duplicate of the kept bytes, no new rejection`,
        );
        const { rows } = await d.pool.query('select count(*)::int as n from metering.rejected_events');
        assert.equal(rows[0].n, 1, `${label}: one rejection`);
        // The fix, same id: the refused claim is taken over, the fix applied, the row resolved.
        const fixed = await resubmit(app, kept.id, kept.fix);
        assert.equal(fixed.statusCode, 202, `${label}: ${fixed.body}`);
        assert.deepEqual(fixed.json(), { resolved_by: `addon-service/${kept.original.id}`, duplicate: false }, label);
        assert.equal((await applyRaw(d, [published.at(-1)![0]!.value.toString()], NOW)).applied, 1, label);
        assert.equal((await getRejected(d.pool, kept.id))?.resolved_by, `addon-service/${kept.original.id}`, label);
      }
    }
  });

  test('a fix (a body) refused between the claim and the resolve: kept as its own rejection, which the 422 names; the row re-submitted stays pending', async () => {
    const { app, published, d, hooks } = await routes();
    const kept = await keptAsItWas(d, false);
    const stillOverlapping = { ...kept.original, data: { app_id: 'app-1', plan: 'premium-2' } };
    hooks.afterClaim = async () => {
      const consumed = await applyRaw(
        d,
        published.flat().map((m) => m.value.toString()),
        NOW,
      );
      assert.deepEqual([consumed.applied, consumed.duplicates, consumed.rejected.length], [0, 0, 1]);
    };
    const res = await resubmit(app, kept.id, stillOverlapping);
    hooks.afterClaim = async () => {};
    assert.equal(res.statusCode, 422, res.body);
    const { rows } = await d.pool.query<{ id: string; reasons: { code: string }[] }>(
      'select id::text, reasons from metering.rejected_events where resolved_at is null order by id',
    );
    assert.deepEqual(
      rows.map((r) => [r.id === kept.id, r.reasons[0]!.code]),
      [
        [true, 'time_in_future'],
        [false, 'store_refused'],
      ],
    );
    assert.deepEqual(res.json().reasons, rows[1]!.reasons, "the fix's own rejection named");
  });

  test('the resolve waits for a refusing batch in flight (it holds the rejections lock), then leaves the row pending', async () => {
    const d = await db();
    const kept = await keptAsItWas(d, false);
    const [valid] = judge([{ bytes: Buffer.from(kept.raw), receivedAtMs: NOW }], NOW).valid;
    const key = { source: valid!.event.source, id: valid!.event.id, contentHash: valid!.contentHash };
    assert.equal((await claimKeys(d.pool, [key]))[0]!.ours, true, 'published and claimed, as the route does');
    const consumer = await d.pool.connect();
    try {
      await consumer.query('begin');
      const result = await applyRefusing(consumer, judge([{ bytes: Buffer.from(kept.raw), receivedAtMs: NOW }], NOW));
      assert.deepEqual(
        [result.applied, result.duplicates, result.rejected.length],
        [0, 1, 0],
        'a duplicate of the pending row, uncommitted',
      );
      let done = false;
      const resolving = markResolved(d.pool, kept.id, `addon-service/${key.id}`, { ...key, bytes: Buffer.from(kept.raw) }).finally(() => {
        done = true;
      });
      await eventually('the resolve waiting on a lock', async () => done || (await waitingOnLocks(d)) === 1);
      assert.equal(done, false, 'the resolve waited for the refusing batch');
      await consumer.query('commit');
      const resolved = await resolving;
      assert.equal(resolved.resolved, false);
      assert.deepEqual(resolved.resolved ? [] : resolved.reasons?.map((r) => r.code), ['store_refused']);
    } finally {
      await consumer.query('rollback').catch(() => {});
      consumer.release();
    }
    assert.equal((await getRejected(d.pool, kept.id))?.resolved_at, null, 'pending');
  });

  test('a crash between the claim and the resolve: the event refused on the bus, a re-submit as it was is 422 before any publish', async () => {
    const { app, published, d, hooks } = await routes();
    const kept = await keptAsItWas(d, false);
    hooks.afterClaim = async () => {
      throw new Error('killed');
    };
    // Thrown after the publish: answered as published (published-unsettled.ts), the rejection pending.
    const first = await resubmit(app, kept.id);
    assert.equal(first.statusCode, 503, first.body);
    assert.equal(first.json().published, true);
    hooks.afterClaim = async () => {};
    assert.equal((await getRejected(d.pool, kept.id))?.resolved_at, null, 'pending, the event on the bus');
    const consumed = await applyRaw(
      d,
      published.flat().map((m) => m.value.toString()),
      NOW,
    );
    assert.deepEqual([consumed.applied, consumed.duplicates, consumed.rejected.length], [0, 1, 0]);
    const again = await resubmit(app, kept.id);
    assert.equal(again.statusCode, 422, again.body);
    assert.match(again.json().error, /^still rejected: the store refused this very event/);
    assert.equal(published.length, 1, 'nothing published again');
    assert.equal((await getRejected(d.pool, kept.id))?.reasons[0]?.code, 'store_refused');
  });
});

const resubmit = (app: { http: ReturnType<typeof createHttpApp> }, id: string, body?: object) =>
  app.http.inject({
    method: 'POST',
    url: `/v1/rejected/${id}/resubmit`,
    headers: body ? { ...AUTH, 'content-type': 'application/json' } : AUTH,
    ...(body ? { payload: JSON.stringify(body) } : {}),
  });

/** Sessions of this database waiting on a lock (an advisory one or a row's). */
async function waitingOnLocks(d: TestDatabase): Promise<number> {
  const { rows } = await d.pool.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
  );
  return rows[0]!.n;
}

/**
 * The routes alone, no consumer, over a bus that records what is published and a pool
 * that runs `hooks.afterPublish` once the publish is durable, `hooks.afterClaim` once the
 * answer's claim is inserted: where the route's steps meet the consumer's, deterministically.
 */
async function routes() {
  const d = await db();
  const inner = await openBus('embedded', d);
  const published: OutgoingMessage[][] = [];
  const hooks = { afterPublish: async () => {}, afterClaim: async () => {} };
  const bus = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'publish')
        return async (topic: string, messages: OutgoingMessage[]) => {
          published.push(messages);
          await target.publish(topic, messages);
          await hooks.afterPublish();
        };
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Bus;
  const pool = new Proxy(d.pool, {
    get(target, prop) {
      if (prop === 'query')
        return async (...args: Parameters<pg.Pool['query']>) => {
          const result = await (target.query as (...a: unknown[]) => Promise<unknown>)(...args);
          if (typeof args[0] === 'string' && args[0].includes('insert into metering.intake_claims')) await hooks.afterClaim();
          return result;
        };
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as pg.Pool;
  const topic = uniqueName('billing');
  await inner.ensureTopic(topic, 1);
  const app = createHttpApp(memoryLogger());
  meteringRoutes(app, { pool, bus, topic, adminToken: ADMIN, groupId: uniqueName('metering') });
  await app.ready();
  closing.push(async () => {
    await app.close();
    await inner.close();
  });
  return { app: { http: app }, published, d, hooks };
}

// While Kafka was down, `POST /v1/events` and a re-submit held each request for
// 3.5 minutes (kafkajs's retries), then answered a bare `500 internal error`.
// The door now waits for the bus's acknowledgement 15 s at most, and a bus that
// does not give it (no answer, or an error) is a 503 with Retry-After that names
// the bus, says what may be on it and that sending again is safe; nothing is
// claimed, so nothing is counted as accepted. Here the bus is the embedded one
// behind a stand-in whose publish hangs, lands and then hangs (its
// acknowledgement lost), or fails; real PostgreSQL. (Kafka itself stopped:
// intake-kafka-down.test.ts.)
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Bus, Consumer, OutgoingMessage } from '@vault/bus';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually, uniqueName, type TestDatabase } from '@vault/testkit';
import { meteringRoutes } from '../src/app.ts';
import { startConsumer } from '../src/consumer/consume.ts';
import { eventsRoutes } from '../src/intake/routes.ts';
import { PUBLISH_DEADLINE_MS } from '../src/intake/publish-deadline.ts';
import { ADMIN, AUTH, meteringDatabase, openBus, stats, type Metering } from './harness.ts';

type Mode = 'ok' | 'hang' | 'land-then-hang' | 'fail';

let serial = 0;
const event = (id = `bus-deadline-${++serial}-${Date.now()}`) => ({
  specversion: '1.0',
  id,
  source: 'dyno-manager',
  type: 'dyno.started',
  time: '2026-10-01T00:00:00Z',
  subject: `dyno-${id}`,
  sequence: 1,
  data: { app_id: 'app-deadline', name: 'web.1', size: 'standard-1x' },
});

const SAFE_AGAIN = /as an event already there is counted as a duplicate \(the same source and id\)$/;

describe('POST /v1/events and a re-submit while the bus does not acknowledge (real PostgreSQL, a stand-in bus)', {
  timeout: 120_000,
}, () => {
  let db: TestDatabase;
  let inner: Bus;
  let consumer: Consumer;
  let full: FastifyInstance;
  let quick: FastifyInstance;
  const log = memoryLogger();
  const topic = uniqueName('billing');
  let mode: Mode = 'ok';
  const never = new Promise<never>(() => {});

  before(async () => {
    db = await meteringDatabase();
    inner = await openBus('embedded', db);
    // The stand-in: the real bus, but for what `mode` makes of a publish.
    const bus = new Proxy(inner, {
      get(target, prop) {
        if (prop === 'publish') {
          return async (t: string, messages: OutgoingMessage[]) => {
            if (mode === 'fail') throw new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
            if (mode === 'hang') return never;
            await target.publish(t, messages);
            if (mode === 'land-then-hang') return never;
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Bus;
    const groupId = uniqueName('metering');
    consumer = await startConsumer({ bus: inner, pool: db.pool, topic, log, groupId, sessionTimeoutMs: 6_000 });
    // As main.ts builds it: the default deadline.
    full = createHttpApp(log);
    meteringRoutes(full, { pool: db.pool, bus, topic, adminToken: ADMIN, groupId, log });
    await full.ready();
    // The intake's routes alone, with a deadline of 2 s, so the cases that do not measure the default run quickly.
    quick = createHttpApp(log);
    eventsRoutes(quick, { pool: db.pool, bus, topic, log, publishWithinMs: 2_000 });
    await quick.ready();
  });
  after(async () => {
    await full?.close();
    await quick?.close();
    await consumer?.stop();
    await inner?.close();
    await db?.drop();
  });

  const claimed = async (id: string) =>
    (await db.pool.query('select 1 from metering.intake_claims where source = $1 and id = $2', ['dyno-manager', id])).rowCount;
  const postTo = async (app: FastifyInstance, payload: string) => {
    const started = performance.now();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
      payload,
    });
    return { res, ms: performance.now() - started };
  };
  /** A pending rejection standing for `e`, as the consumer keeps one. */
  const keep = async (e: { id: string }) => {
    const raw = JSON.stringify({ ...e, broken: true });
    const { rows } = await db.pool.query<{ id: string }>(
      `insert into metering.rejected_events (raw, raw_bytes, raw_hash, reasons, source, event_id)
       values ($1, convert_to($1, 'UTF8'), $2, '[{"field": "", "code": "store_refused", "message": "test"}]', 'dyno-manager', $3)
       returning id::text`,
      [raw, createHash('sha256').update(raw).digest('hex'), e.id],
    );
    return rows[0]!.id;
  };

  // Each test has a bound of its own: held (as before the deadline), it fails alone, naming itself.
  const HELD = { timeout: 30_000 };

  test(
    `a publish that never settles: 503 within the deadline (${PUBLISH_DEADLINE_MS / 1000} s) + 1 s, Retry-After, naming the bus, nothing accepted; sent again, accepted`,
    HELD,
    async () => {
      const e = event();
      const body = `${JSON.stringify(e)}\n${JSON.stringify({ ...e, id: `${e.id}-b`, subject: `${e.subject}-b` })}\n`;
      mode = 'hang';
      const { res, ms } = await postTo(full, body);
      assert.equal(res.statusCode, 503, res.body);
      assert.ok(ms >= PUBLISH_DEADLINE_MS - 100 && ms < PUBLISH_DEADLINE_MS + 1_000, `answered after ${ms.toFixed(0)} ms`);
      assert.equal(res.headers['retry-after'], '10');
      const answer = res.json() as Record<string, unknown>;
      assert.deepEqual(Object.keys(answer), ['error'], 'no counts: nothing is reported as accepted');
      assert.match(
        String(answer.error),
        /^the embedded bus did not acknowledge the events within 15 s, so none of them is counted as accepted; part of them may already be on the bus \(or still get there\): sending the same body again is safe, /,
      );
      assert.match(String(answer.error), SAFE_AGAIN);
      assert.equal(await claimed(e.id), 0, 'no key claimed');
      assert.ok(
        log.lines.some((l) => l.includes('event=intake.bus_unavailable') && l.includes('why=timeout')),
        'logged as intake.bus_unavailable',
      );
      mode = 'ok';
      const again = await postTo(full, body);
      assert.equal(again.res.statusCode, 202, again.res.body);
      assert.deepEqual(again.res.json(), { accepted: 2, duplicates: 0, rejected: [] });
    },
  );

  test(
    'a publish that rejects at once: 503 at once naming the bus, Retry-After, nothing accepted; the bus’s error logged, not answered',
    HELD,
    async () => {
      const e = event();
      mode = 'fail';
      for (const app of [full, quick]) {
        const { res, ms } = await postTo(app, JSON.stringify(e));
        assert.equal(res.statusCode, 503, res.body);
        assert.ok(ms < 1_000, `answered after ${ms.toFixed(0)} ms`);
        assert.equal(res.headers['retry-after'], '10');
        const error = String((res.json() as { error: string }).error);
        assert.match(error, /^the embedded bus failed to take the events, so none of them is counted as accepted; /);
        assert.match(error, SAFE_AGAIN);
        assert.doesNotMatch(error, /ECONNREFUSED/);
      }
      assert.equal(await claimed(e.id), 0);
      assert.ok(
        log.lines.some((l) => l.includes('event=intake.bus_unavailable') && l.includes('why=failed') && l.includes('ECONNREFUSED')),
      );
      mode = 'ok';
    },
  );

  test(
    'published but not acknowledged (its answer lost): 503; the body sent again is accepted once, the consumer applying it once and counting the copy a duplicate',
    HELD,
    async () => {
      const e = event();
      // What the tests before put on the bus applied first.
      let base: Record<string, number> = {};
      await eventually('no lag', async () => (base = await stats({ http: full } as Metering)).consumer_lag === 0);
      mode = 'land-then-hang';
      const { res, ms } = await postTo(quick, JSON.stringify(e));
      assert.equal(res.statusCode, 503, res.body);
      assert.ok(ms < 2_000 + 1_000, `answered after ${ms.toFixed(0)} ms`);
      assert.match(String((res.json() as { error: string }).error), /^the embedded bus did not acknowledge the events within 2 s/);
      mode = 'ok';
      const again = await postTo(quick, JSON.stringify(e));
      assert.equal(again.res.statusCode, 202, again.res.body);
      const report = again.res.json() as { accepted: number; duplicates: number };
      assert.equal(report.accepted + report.duplicates, 1, JSON.stringify(report));
      let last = {};
      await eventually(
        () => `one applied, one duplicate from ${JSON.stringify(base)}; last ${JSON.stringify(last)}`,
        async () => {
          const s = (last = await stats({ http: full } as Metering));
          return s.events_applied === base.events_applied! + 1 && s.events_duplicate === base.events_duplicate! + 1 && s.consumer_lag === 0;
        },
      );
      const stored = await db.pool.query('select 1 from metering.event_keys where source = $1 and id = $2', ['dyno-manager', e.id]);
      assert.equal(stored.rowCount, 1);
    },
  );

  test(
    'a re-submit whose publish never settles, or fails: 503 within the deadline + 1 s naming the bus, the rejection still pending; once the bus answers, 202',
    HELD,
    async () => {
      const e = event();
      const id = await keep(e);
      const resubmit = (app: FastifyInstance) =>
        app.inject({
          method: 'POST',
          url: `/v1/rejected/${id}/resubmit`,
          headers: { ...AUTH, 'content-type': 'application/json' },
          payload: JSON.stringify(e),
        });
      const pending = async () =>
        (await db.pool.query('select resolved_at from metering.rejected_events where id = $1', [id])).rows[0].resolved_at === null;
      for (const [m, within] of [
        ['hang', 2_000],
        ['fail', 0],
      ] as const) {
        mode = m;
        const started = performance.now();
        const res = await resubmit(quick);
        const ms = performance.now() - started;
        assert.equal(res.statusCode, 503, `${m}: ${res.body}`);
        assert.ok(ms < within + 1_000, `${m}: answered after ${ms.toFixed(0)} ms`);
        assert.equal(res.headers['retry-after'], '10');
        assert.match(
          String(res.json().error),
          /^the embedded bus (did not acknowledge the events within 2 s|failed to take the events), so none of them is counted as accepted; .*: the rejection stays pending, and re-submitting it is safe, /,
        );
        assert.ok(await pending(), `${m}: still pending`);
        assert.equal(await claimed(e.id), 0);
      }
      mode = 'ok';
      const res = await resubmit(full);
      assert.equal(res.statusCode, 202, res.body);
      assert.deepEqual(res.json(), { resolved_by: `dyno-manager/${e.id}`, duplicate: false });
    },
  );
});

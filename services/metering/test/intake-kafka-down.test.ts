// Kafka stopped under a running metering: `POST /v1/events` and a re-submit
// were held 3.5 minutes (kafkajs's retries: 213 s measured), then answered a
// bare `500 internal error`. They are now a 503 within the door's deadline
// (15 s) + 1 s, with Retry-After, naming the Kafka bus, nothing counted as
// accepted; the producer gives up on its own within about 8 s and is replaced,
// and once Kafka is back the same body is accepted. A broker of its own: the
// shared test broker other files use is never stopped.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createKafkaBus, type Bus } from '@vault/bus';
import { startKafka, stopKafka } from '@vault/kafka-local';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { freePort, uniqueName, type TestDatabase } from '@vault/testkit';
import { meteringRoutes } from '../src/app.ts';
import { PUBLISH_DEADLINE_MS } from '../src/intake/publish-deadline.ts';
import { ADMIN, AUTH, meteringDatabase } from './harness.ts';

const LONG = { timeout: 300_000 };

describe('metering’s HTTP door while Kafka is stopped (a broker of its own, real PostgreSQL)', LONG, () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'metering-kafka-down-'));
  let ports: { port: number; controllerPort: number };
  let db: TestDatabase;
  let bus: Bus;
  let app: FastifyInstance;
  const busLog: string[] = [];
  const start = () => startKafka({ stateDir, ...ports, timeoutMs: 90_000 });

  before(async () => {
    ports = { port: await freePort(), controllerPort: await freePort() };
    const { brokers } = await start();
    db = await meteringDatabase();
    bus = await createKafkaBus({ brokers: [brokers], clientId: uniqueName('kafka-down'), log: (event) => busLog.push(event) });
    const topic = uniqueName('billing');
    await bus.ensureTopic(topic, 3);
    app = createHttpApp(memoryLogger());
    meteringRoutes(app, { pool: db.pool, bus, topic, adminToken: ADMIN, groupId: uniqueName('metering'), log: memoryLogger() });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await bus?.close().catch(() => {});
    await stopKafka({ stateDir });
    await db?.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const event = (id: string) => ({
    specversion: '1.0',
    id,
    source: 'dyno-manager',
    type: 'dyno.started',
    time: '2026-10-01T00:00:00Z',
    subject: `dyno-${id}`,
    sequence: 1,
    data: { app_id: 'app-kafka-down', name: 'web.1', size: 'standard-1x' },
  });
  const timed = async (inject: () => Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>) => {
    const started = performance.now();
    const res = await inject();
    return { res, ms: performance.now() - started };
  };
  const post = (e: object) =>
    timed(() =>
      app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { ...AUTH, 'content-type': 'application/cloudevents+json' },
        payload: JSON.stringify(e),
      }),
    );

  test('POST /v1/events and a re-submit are 503 within the deadline + 1 s naming the Kafka bus, with Retry-After; once Kafka is back, the same body is accepted', async () => {
    const up = await post(event(uniqueName('up')));
    assert.equal(up.res.statusCode, 202, up.res.body);

    await stopKafka({ stateDir });
    const e = event(uniqueName('down'));
    const down = await post(e);
    assert.equal(down.res.statusCode, 503, down.res.body);
    assert.ok(down.ms < PUBLISH_DEADLINE_MS + 1_000, `answered after ${down.ms.toFixed(0)} ms`);
    assert.equal(down.res.headers['retry-after'], '10');
    const error = String(JSON.parse(down.res.body).error);
    assert.match(
      error,
      /^the kafka bus (did not acknowledge the events within 15 s|failed to take the events), so none of them is counted as accepted; /,
    );
    assert.match(error, /sending the same body again is safe, as an event already there is counted as a duplicate/);
    const claims = await db.pool.query('select 1 from metering.intake_claims where id = $1', [e.id]);
    assert.equal(claims.rowCount, 0, 'nothing claimed, nothing accepted');

    // A kept rejection, re-submitted fixed while Kafka is down.
    const raw = JSON.stringify({ ...e, id: `${e.id}-kept`, broken: true });
    const { rows } = await db.pool.query<{ id: string }>(
      `insert into metering.rejected_events (raw, raw_bytes, raw_hash, reasons, source, event_id)
       values ($1, convert_to($1, 'UTF8'), $2, '[{"field": "", "code": "store_refused", "message": "test"}]', 'dyno-manager', $3)
       returning id::text`,
      [raw, createHash('sha256').update(raw).digest('hex'), `${e.id}-kept`],
    );
    const fix = { ...e, id: `${e.id}-kept`, subject: `${e.subject}-kept` };
    const resubmit = () =>
      timed(() =>
        app.inject({
          method: 'POST',
          url: `/v1/rejected/${rows[0]!.id}/resubmit`,
          headers: { ...AUTH, 'content-type': 'application/json' },
          payload: JSON.stringify(fix),
        }),
      );
    const refused = await resubmit();
    assert.equal(refused.res.statusCode, 503, refused.res.body);
    assert.ok(refused.ms < PUBLISH_DEADLINE_MS + 1_000, `answered after ${refused.ms.toFixed(0)} ms`);
    assert.equal(refused.res.headers['retry-after'], '10');
    assert.match(
      String(JSON.parse(refused.res.body).error),
      /^the kafka bus .*: the rejection stays pending, and re-submitting it is safe/,
    );
    assert.ok(busLog.includes('bus.publish_failed'), `the failed producer replaced: ${busLog.join(' ')}`);

    await start();
    const back = await post(e);
    assert.equal(back.res.statusCode, 202, back.res.body);
    assert.deepEqual(JSON.parse(back.res.body), { accepted: 1, duplicates: 0, rejected: [] });
    const resolved = await resubmit();
    assert.equal(resolved.res.statusCode, 202, resolved.res.body);
  });
});

// Metering's GET /health says when its bus is gone: a Kafka broker stopped under it left /health
// 200 for 65 s and more while every POST /v1/events was a 503, the consumer silent. Now it is 503
// naming the bus once the consumer has not reached it for BUS_UNREACHABLE_AFTER_MS (30 s), 200 again
// once it is back, each transition logged once; an idle topic on a bus that answers stays 200. The
// real metering process, a Kafka broker of its own (the shared one is never stopped), and the
// embedded bus's reads held up by a lock on the real PostgreSQL.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startKafka, stopKafka } from '@vault/kafka-local';
import { freePort, freshDatabase, startService, uniqueName, type RunningService, type TestDatabase } from '@vault/testkit';
import { BUS_UNREACHABLE_AFTER_MS } from '../src/bus-health.ts';

const THRESHOLD_S = BUS_UNREACHABLE_AFTER_MS / 1000;
/** The watch's tick (1 s), a probe's interval, a loaded machine. */
const MARGIN_MS = 7_000;
const LONG = { timeout: 300_000 };

interface Probe {
  status: number;
  body: { status: string; reason?: string };
  at: number;
}

async function health(app: RunningService): Promise<Probe> {
  const res = await fetch(`${app.url}/health`);
  return { status: res.status, body: (await res.json()) as Probe['body'], at: Date.now() };
}

/** Polls /health every 250 ms until `until` holds or `withinMs` passes; every answer on the way. */
async function probeUntil(app: RunningService, withinMs: number, until: (p: Probe) => boolean): Promise<Probe[]> {
  const seen: Probe[] = [];
  const deadline = Date.now() + withinMs;
  for (;;) {
    const p = await health(app);
    seen.push(p);
    if (until(p) || Date.now() > deadline) return seen;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const env = async (db: TestDatabase, extra: Record<string, string>) => ({
  DATABASE_URL: db.url,
  HOST: '127.0.0.1',
  ADMIN_TOKEN: 'health-bus-admin-token-0123456789abcdef',
  METERING_PORT: String(await freePort()),
  BILLING_EVENTS_TOPIC: uniqueName('health-bus-billing'),
  METERING_CONSUMER_GROUP: uniqueName('health-bus-metering'),
  ...extra,
});

const logged = (app: RunningService, event: string) => app.lines.filter((l) => l.includes(`event=${event} `));

/** An idle topic on a bus that answers: 200 at every probe past the threshold + margin. */
async function staysHealthyIdle(app: RunningService): Promise<void> {
  const seen = await probeUntil(app, THRESHOLD_S * 1000 + MARGIN_MS, () => false);
  const bad = seen.filter((p) => p.status !== 200);
  assert.deepEqual(bad, [], `idle and healthy, yet: ${JSON.stringify(bad[0])}`);
  assert.deepEqual(logged(app, 'bus.unreachable'), []);
}

describe(
  'metering on Kafka: GET /health is 503 naming the bus while its broker is stopped, 200 once it is back (a broker of its own)',
  LONG,
  () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'metering-health-bus-'));
    let ports: { port: number; controllerPort: number };
    let brokers: string;
    let db: TestDatabase;
    let metering: RunningService | undefined;
    const start = () => startKafka({ stateDir, ...ports, timeoutMs: 90_000 });

    before(async () => {
      ports = { port: await freePort(), controllerPort: await freePort() };
      brokers = (await start()).brokers;
      db = await freshDatabase('healthbusdown');
    });
    after(async () => {
      await metering?.kill('SIGTERM');
      await stopKafka({ stateDir });
      await db?.drop();
      rmSync(stateDir, { recursive: true, force: true });
    });

    test(
      'idle past the threshold: 200; broker stopped: 503 within the threshold + margin; restarted: 200; each transition logged once',
      LONG,
      async (t) => {
        metering = await startService('metering', await env(db, { KAFKA_BROKERS: brokers }));
        const app = metering;
        assert.equal((await probeUntil(app, 30_000, (p) => p.status === 200)).at(-1)?.status, 200, 'healthy once joined');
        await staysHealthyIdle(app);

        await stopKafka({ stateDir });
        const stopped = Date.now();
        const down = (await probeUntil(app, THRESHOLD_S * 1000 + MARGIN_MS, (p) => p.status === 503)).at(-1)!;
        assert.equal(down.status, 503, `still ${JSON.stringify(down.body)} ${down.at - stopped} ms after the stop`);
        assert.equal(down.body.status, 'unavailable');
        assert.match(down.body.reason ?? '', /^kafka bus unreachable: no broker has answered the consumer since \d{4}-\d\d-\d\dT[\d:.]+Z$/);
        assert.ok(!down.body.reason?.includes(brokers), 'the answer names no broker address');
        const lost = logged(app, 'bus.unreachable');
        assert.equal(lost.length, 1, lost.join('\n'));
        assert.match(lost[0]!, /\bat=warn .*bus=kafka/);

        await start();
        const back = (await probeUntil(app, 90_000, (p) => p.status === 200)).at(-1)!;
        assert.deepEqual([back.status, back.body], [200, { status: 'ok' }], `${(back.at - stopped) / 1000} s after the stop`);
        t.diagnostic(`503 ${(down.at - stopped) / 1000} s after the stop; 200 again ${(back.at - stopped) / 1000} s after it`);
        const recovered = logged(app, 'bus.reachable');
        assert.equal(recovered.length, 1, recovered.join('\n'));
        assert.match(recovered[0]!, /\bat=info .*bus=kafka/);
        // Once per reason, whatever the probes: the broker back before the member rejoined is a second reason (rejoining).
        const reasons = logged(app, 'bus.unreachable').map((l) => /reason="([^"]*)"/.exec(l)?.[1]);
        assert.deepEqual(reasons, [...new Set(reasons)], reasons.join('\n'));
      },
    );
  },
);

describe(
  'metering on the embedded bus: GET /health is 503 naming the bus while its reads are held up, the database answering',
  LONG,
  () => {
    let db: TestDatabase;
    let metering: RunningService | undefined;
    before(async () => (db = await freshDatabase('healthbusreads')));
    after(async () => {
      await metering?.kill('SIGTERM');
      await db?.drop();
    });

    test('idle past the threshold: 200; the log locked: 503 within the threshold + margin; released: 200', LONG, async () => {
      metering = await startService('metering', await env(db, { KAFKA_BROKERS: '' }));
      const app = metering;
      await staysHealthyIdle(app);

      // Every read of the consumer's asks bus.topics first: it waits, while `select 1` (the database check) answers.
      const holder = new pg.Client({ connectionString: db.url });
      await holder.connect();
      try {
        await holder.query('begin');
        await holder.query('lock table bus.topics in access exclusive mode');
        const down = (await probeUntil(app, THRESHOLD_S * 1000 + MARGIN_MS, (p) => p.status === 503)).at(-1)!;
        assert.equal(down.status, 503, JSON.stringify(down.body));
        assert.match(down.body.reason ?? '', /^embedded bus unreachable: no read of the log has succeeded since \d{4}-/);
        await holder.query('rollback');
      } finally {
        await holder.end();
      }
      const back = (await probeUntil(app, 30_000, (p) => p.status === 200)).at(-1)!;
      assert.deepEqual([back.status, back.body], [200, { status: 'ok' }]);
      assert.equal(logged(app, 'bus.unreachable').length, 1);
      assert.equal(logged(app, 'bus.reachable').length, 1);
    });
  },
);

// GET /health means "this app can do its job": its database answers (within
// 2 s) and, for metering, its consumer runs. Against the real apps as
// processes, a real PostgreSQL made to refuse connections, and real consumers
// stopped the ways they stop: the embedded bus's tables gone, a Kafka consumer
// group another member holds with a protocol kafkajs cannot join.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AssignerProtocol, Kafka, logLevel, type Consumer, type PartitionAssigner } from 'kafkajs';
import pg from 'pg';
import {
  eventually,
  freePort,
  freshDatabase,
  migrateApps,
  startService,
  startServices,
  testKafkaBrokers,
  uniqueName,
  type RunningService,
  type TestDatabase,
} from '@vault/testkit';

const LONG = { timeout: 120_000 };

async function health(app: RunningService): Promise<{ status: number; body: { status: string; reason?: string }; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${app.url}/health`);
  return { status: res.status, body: (await res.json()) as { status: string; reason?: string }, ms: Date.now() - started };
}

async function healthBecomes(app: RunningService, status: number, reason?: RegExp): Promise<{ status: string; reason?: string }> {
  let last: Awaited<ReturnType<typeof health>> | undefined;
  try {
    await eventually(
      `/health ${status}`,
      async () => {
        last = await health(app);
        return last.status === status && (reason === undefined || reason.test(last.body.reason ?? ''));
      },
      20_000,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last: ${JSON.stringify(last)}`);
  }
  return last!.body;
}

/** Runs `sql` as the server's superuser, on its maintenance database. */
async function asAdmin(db: TestDatabase, sql: string): Promise<void> {
  const url = new URL(db.url);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const env = async (db: TestDatabase) => ({
  DATABASE_URL: db.url,
  HOST: '127.0.0.1',
  ADMIN_TOKEN: 'health-admin-token-0123456789abcdef',
  KAFKA_BROKERS: '',
  GATEWAY_WEBHOOK_SECRET: 'whsec_health',
  METERING_PORT: String(await freePort()),
  INVOICING_PORT: String(await freePort()),
});

describe('GET /health: 503 with the reason while the database refuses connections, 200 again once it accepts them', () => {
  let db: TestDatabase;
  const apps: RunningService[] = [];
  before(async () => {
    db = await freshDatabase('health');
    // The gateway sandbox's too: invoicing reads its keys at boot (none configured).
    await migrateApps(db);
  });
  after(async () => {
    await Promise.all(apps.map((a) => a.kill('SIGTERM')));
    await asAdmin(db, `alter database ${new URL(db.url).pathname.slice(1)} allow_connections true`).catch(() => {});
    await db?.drop();
  });

  test('metering and invoicing', LONG, async () => {
    const e = await env(db);
    const [metering, invoicing] = (await startServices([
      ['metering', e],
      ['invoicing', e],
    ])) as [RunningService, RunningService];
    apps.push(metering, invoicing);
    for (const app of [metering, invoicing]) assert.deepEqual(await health(app).then((h) => [h.status, h.body]), [200, { status: 'ok' }]);

    const name = new URL(db.url).pathname.slice(1);
    await asAdmin(db, `alter database ${name} allow_connections false`);
    await asAdmin(db, `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}' and pid <> pg_backend_pid()`);
    for (const app of [metering, invoicing]) {
      const body = await healthBecomes(app, 503);
      assert.deepEqual(Object.keys(body).sort(), ['reason', 'status']);
      assert.equal(body.status, 'unavailable');
      // The answer needs no token: the reason alone. The server's own words go to the log (the
      // first check may meet a pooled connection as it is terminated: either message).
      assert.equal(body.reason, 'database unavailable');
      // The line goes out on another pipe than the answer: it may arrive a moment after it.
      await eventually(
        () => `the reason in the log:\n${app.lines.slice(-5).join('\n')}`,
        () =>
          app.lines.some(
            (l) =>
              l.includes('event=health.unavailable reason="database unavailable" detail=') &&
              /is not currently accepting connections|terminating connection due to administrator command/.test(l),
          ),
        5_000,
      );
      const { ms } = await health(app);
      assert.ok(ms < 3_000, `answers within the check's 2 s timeout (${ms} ms)`);
    }

    await asAdmin(db, `alter database ${name} allow_connections true`);
    for (const app of [metering, invoicing]) {
      assert.deepEqual(await healthBecomes(app, 200), { status: 'ok' });
      await eventually('event=health.ok in the log', () => app.lines.some((l) => l.includes('event=health.ok')), 5_000);
    }
  });
});

describe('metering: GET /health is 503 once its consumer has stopped, and a restart brings it back', () => {
  let db: TestDatabase;
  let metering: RunningService | undefined;
  before(async () => (db = await freshDatabase('healthbus')));
  after(async () => {
    await metering?.kill('SIGTERM');
    await db?.drop();
  });

  test('embedded bus: its tables dropped under the consumer', LONG, async () => {
    const e = await env(db);
    metering = await startService('metering', e);
    assert.equal((await health(metering)).status, 200);
    await db.pool.query('drop schema bus cascade');
    const body = await healthBecomes(metering, 503);
    assert.equal(body.reason, 'consumer stopped');
    await eventually(
      'the reason in the log',
      () =>
        metering!.lines.some((l) =>
          /event=health\.unavailable reason="consumer stopped" detail=.*relation .*bus\.\w+.* does not exist/.test(l),
        ),
      5_000,
    );
    await eventually('the crash is logged', () => metering!.lines.some((l) => l.includes('event=bus.consumer_crash')), 5_000);

    // The cure is a restart: boot migrates the embedded bus again.
    await metering.kill('SIGTERM');
    metering = await startService('metering', e);
    assert.deepEqual(await healthBecomes(metering, 200), { status: 'ok' });
  });
});

/**
 * A member of the same group that speaks only its own assignment protocol: a
 * kafkajs member joining after it is refused (INCONSISTENT_GROUP_PROTOCOL, which
 * kafkajs does not retry), as when two programs share a group id by mistake.
 */
const Incompatible: PartitionAssigner = () => ({
  name: 'IncompatibleAssigner',
  version: 1,
  async assign({ members }) {
    const empty = AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: {}, userData: Buffer.alloc(0) });
    return members.map((m) => ({ memberId: m.memberId, memberAssignment: empty }));
  },
  protocol({ topics }) {
    return {
      name: 'IncompatibleAssigner',
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});

describe('metering on Kafka: GET /health is 503 when its consumer crashed beyond recovery', () => {
  let db: TestDatabase;
  let metering: RunningService | undefined;
  let rogue: Consumer | undefined;
  before(async () => (db = await freshDatabase('healthkafka')));
  after(async () => {
    await metering?.kill('SIGTERM');
    await rogue?.disconnect().catch(() => {});
    await db?.drop();
  });

  test(
    'the group held by a member with another protocol: crashed, 503 naming the cause; once that member is gone, a restart is healthy',
    LONG,
    async () => {
      const topic = uniqueName('health-billing');
      const group = uniqueName('health-metering');
      const kafka = new Kafka({ clientId: 'health-rogue', brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
      await admin.disconnect();
      rogue = kafka.consumer({ groupId: group, partitionAssigners: [Incompatible] });
      const joined = new Promise<void>((resolve) => rogue!.on(rogue!.events.GROUP_JOIN, () => resolve()));
      await rogue.connect();
      await rogue.subscribe({ topic });
      await rogue.run({ eachMessage: async () => {} });
      await joined;

      const e = {
        ...(await env(db)),
        KAFKA_BROKERS: testKafkaBrokers().join(','),
        BILLING_EVENTS_TOPIC: topic,
        METERING_CONSUMER_GROUP: group,
      };
      metering = await startService('metering', e);
      const body = await healthBecomes(metering, 503);
      assert.equal(body.reason, 'consumer stopped');
      const crashed = metering;
      assert.ok(crashed.lines.some((l) => /event=health\.unavailable reason="consumer stopped" detail=.*protocol/i.test(l)));

      await rogue.disconnect();
      rogue = undefined;
      await metering.kill('SIGTERM');
      metering = await startService('metering', e);
      assert.deepEqual(await healthBecomes(metering, 200), { status: 'ok' });
    },
  );
});

// The notices topic deleted and created again (by ops, or by our own
// ensureTopic after an error) is another log, holding none of what was
// published before: the publisher finds the new log and publishes every notice
// to it again, in order, so a consumer starting on it misses none. Against the
// real Kafka broker and PostgreSQL; then the invoicing process SIGKILLed while
// it publishes everything again loses nothing.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { createKafkaBus, type Bus } from '@vault/bus';
import { withTransaction } from '@vault/db';
import { memoryLogger } from '@vault/runtime';
import {
  eventually,
  freePort,
  freshDatabase,
  migrateApps,
  recreateTopic,
  startService,
  TEST_GATEWAY_PUBLISHABLE_KEY,
  TEST_GATEWAY_SECRET_KEY,
  testKafkaBrokers,
  uniqueName,
  type RunningService,
  type TestDatabase,
} from '@vault/testkit';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { accountNotice } from '../src/notices/notice.ts';
import { recordNotices, sequenceNotices } from '../src/notices/outbox.ts';
import { startNoticePublisher } from '../src/notices/publisher.ts';

const LONG = { timeout: 240_000 };

describe('notices when the topic is deleted and created again (real Kafka broker, real PostgreSQL)', () => {
  const open: { dbs: TestDatabase[]; buses: Bus[]; admins: Admin[]; apps: RunningService[] } = { dbs: [], buses: [], admins: [], apps: [] };
  after(async () => {
    for (const a of open.apps) await a.kill('SIGKILL');
    for (const a of open.admins) await a.disconnect();
    for (const b of open.buses) await b.close();
    for (const d of open.dbs) await d.drop();
  });

  async function setup(name: string) {
    const db = await freshDatabase(name);
    open.dbs.push(db);
    // Metering's views first: the invoicing process waits at boot until they are there.
    await migrateApps(db, 'metering');
    await ensureInvoicingSchema(db.pool);
    const bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: uniqueName('notices-log-test') });
    const admin = new Kafka({ brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    open.buses.push(bus);
    open.admins.push(admin);
    return { db, bus, admin, topic: uniqueName('billing-notices') };
  }

  /** `n` notices over 7 accounts, numbered from `from`, in transactions of 1,000. */
  async function write(db: TestDatabase, from: number, n: number) {
    for (let i = 0; i < n; i += 1_000) {
      const batch = Array.from({ length: Math.min(1_000, n - i) }, (_, j) => {
        const k = from + i + j;
        return accountNotice('account.suspended', `acct-${k % 7}`, k + 1, new Date(), { n: k });
      });
      await withTransaction(db.pool, (client) => recordNotices(client, batch));
    }
  }

  const recreate = (admin: Admin, bus: Bus, topic: string) => recreateTopic(admin, topic, 3, () => bus.describeLog(topic));

  /** How far the log holds the notices (0: not recorded), and the last notice's position. */
  async function progress(db: TestDatabase, log: string) {
    const { rows } = await db.pool.query<{ through: number; last: number }>(
      `select coalesce((select published_through from invoicing.notices_logs where log = $1), 0)::int as through,
              (select coalesce(max(position), 0) from invoicing.notices)::int as last`,
      [log],
    );
    return rows[0]!;
  }

  /** Notices never published (to any log): the ones written and not sequenced yet too. */
  async function unpublished(db: TestDatabase) {
    const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from invoicing.notices where published_at is null');
    return rows[0]!.n;
  }

  /** Reads the whole topic: each account's notice ids in the order of their first copy. */
  async function readTopic(topic: string, expected: number) {
    const firsts = new Map<string, string[]>();
    const seen = new Set<string>();
    const kafka = new Kafka({ clientId: 'notices-log-reader', brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: uniqueName('notices-log-reader') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const id = (JSON.parse(message.value!.toString('utf8')) as { id: string }).id;
          if (seen.has(id)) return;
          seen.add(id);
          const key = message.key!.toString();
          firsts.set(key, [...(firsts.get(key) ?? []), id]);
        },
      });
      await eventually(
        () => `${seen.size} of ${expected} notices read back`,
        () => seen.size >= expected,
        60_000,
      );
    } finally {
      await consumer.disconnect();
    }
    return firsts;
  }

  /** Every notice on the topic, each account's in the order written (ids from the stored positions). */
  async function assertAllInOrder(db: TestDatabase, topic: string) {
    const { rows } = await db.pool.query<{ id: string; account_id: string }>(
      'select id, account_id from invoicing.notices order by position',
    );
    const expected = new Map<string, string[]>();
    for (const r of rows) expected.set(r.account_id, [...(expected.get(r.account_id) ?? []), r.id]);
    assert.deepEqual(await readTopic(topic, rows.length), expected);
  }

  test(
    'the topic the publisher makes keeps every notice; every notice is published again, in order, to the new log; the change is logged',
    LONG,
    async () => {
      const { db, bus, admin, topic } = await setup('notices_log');
      const log = memoryLogger();
      const publisher = startNoticePublisher({ pool: db.pool, brokers: testKafkaBrokers(), topic, log, everyMs: 100 });
      try {
        await write(db, 0, 1_200);
        await eventually('the first notices published', async () => (await unpublished(db)) === 0, 60_000);
        // Made by the publisher to keep every notice (the broker's default would drop them after 7 days):
        // a consumer starting on the log long after still reads them all, as a new log gets them all.
        const { resources } = await admin.describeConfigs({
          resources: [{ type: 2, name: topic, configNames: ['retention.ms'] }],
          includeSynonyms: false,
        });
        assert.equal(resources[0]!.configEntries.find((e) => e.configName === 'retention.ms')?.configValue, '-1');

        // Nothing new to publish: the publisher still finds the new log, and fills it.
        const { before, now } = await recreate(admin, bus, topic);
        await assertAllInOrder(db, topic);
        await write(db, 1_200, 300);
        await eventually('the later ones after them', async () => (await progress(db, now)).through === 1_500, 60_000);
        const changed = log.lines.filter((l) => l.includes('event=notices.log_changed'));
        assert.equal(changed.length, 1, changed.join('\n'));
        assert.ok(changed[0]!.includes(`from=${before}`) && changed[0]!.includes(`to=${now}`), changed[0]);
        assert.match(changed[0]!, /count#notices\.republished=1200\b/);
      } finally {
        await publisher.stop();
      }
      await assertAllInOrder(db, topic);
      assert.equal(await unpublished(db), 0);
    },
  );

  test(
    'upgraded from a release that kept no logs: what was marked published is taken as on the log found, the rest follows',
    LONG,
    async () => {
      const { db, bus, topic } = await setup('notices_log_upgrade');
      await write(db, 0, 700);
      // As the release before did: positions given, the first 400 marked published (to this topic, in its time).
      await sequenceNotices(db.pool);
      await db.pool.query('update invoicing.notices set published_at = now() where position <= 400');
      await bus.ensureTopic(topic, 3);
      const log = memoryLogger();
      const publisher = startNoticePublisher({ pool: db.pool, brokers: testKafkaBrokers(), topic, log, everyMs: 100 });
      try {
        await eventually('the rest published', async () => (await unpublished(db)) === 0, 60_000);
      } finally {
        await publisher.stop();
      }
      const { rows } = await db.pool.query<{ id: string; account_id: string }>(
        'select id, account_id from invoicing.notices where position > 400 order by position',
      );
      const expected = new Map<string, string[]>();
      for (const r of rows) expected.set(r.account_id, [...(expected.get(r.account_id) ?? []), r.id]);
      assert.deepEqual(await readTopic(topic, rows.length), expected, 'only the 300 never published, in order');
      assert.equal((await progress(db, (await bus.describeLog(topic)).id)).through, 700);
      assert.ok(!log.lines.some((l) => l.includes('event=notices.log_changed')));
    },
  );

  test(
    'the invoicing process SIGKILLed while it publishes everything again to the new log: every notice reaches it, in order',
    LONG,
    async (t) => {
      const { db, bus, admin, topic } = await setup('notices_log_kill');
      const env = {
        DATABASE_URL: db.url,
        ADMIN_TOKEN: 'notices-log-admin-token-0123456789abc',
        KAFKA_BROKERS: testKafkaBrokers().join(','),
        BILLING_NOTICES_TOPIC: topic,
        GATEWAY_URL: 'http://127.0.0.1:9',
        GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
        GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
        GATEWAY_WEBHOOK_SECRET: 'whsec_notices_log',
        CHARGE_EVERY_SECONDS: '3600',
        INVOICE_FINALIZE_EVERY_SECONDS: '3600',
        HOST: '127.0.0.1',
      };
      const start = async () => {
        const app = await startService('invoicing', { ...env, INVOICING_PORT: String(await freePort()) });
        open.apps.push(app);
        return app;
      };
      const total = 30_000;
      await write(db, 0, total);
      let app = await start();
      await eventually('the notices published', async () => (await unpublished(db)) === 0, 120_000);
      await app.kill('SIGKILL');

      const { now } = await recreate(admin, bus, topic);
      // Killed each time the new log has moved on, until it holds everything.
      const killedAt: number[] = [];
      for (let kill = 0; kill < 4; kill++) {
        const from = (await progress(db, now)).through;
        app = await start();
        await eventually('the new log moving on', async () => (await progress(db, now)).through > from, 60_000);
        // At some instant of the next batches: publishing, acknowledged, or being recorded.
        await new Promise((r) => setTimeout(r, Math.random() * 200));
        await app.kill('SIGKILL');
        killedAt.push((await progress(db, now)).through);
        if (killedAt.at(-1)! >= total) break;
      }
      t.diagnostic(`${total} notices; killed with the new log at ${killedAt.join(', ')}`);
      assert.ok(
        killedAt.some((p) => p > 0 && p < total),
        'killed while publishing everything again',
      );
      app = await start();
      await eventually('every notice on the new log', async () => (await progress(db, now)).through === total, 120_000);
      await app.kill('SIGTERM');
      await assertAllInOrder(db, topic);
    },
  );
});

// The requirement: the invoicing process, publishing its notices to
// the real Kafka broker, killed with SIGKILL at random moments while notices
// keep being written; then left to settle. Read back from the topic with
// kafkajs: every notice is there at least once, a notice published again
// carries the same id and the same body, and each copy is a structured-mode
// CloudEvent that the CloudEvents SDK's Kafka binding reads.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kafka as CloudEventsKafka, type KafkaMessage } from 'cloudevents';
import { Kafka, logLevel } from 'kafkajs';
import { withTransaction } from '@vault/db';
import {
  eventually,
  freePort,
  freshDatabase,
  migrateApps,
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
import { recordNotices } from '../src/notices/outbox.ts';

const ADMIN = 'notices-kill-admin-token-0123456789abc';
const KILLS = 6;

describe('notices published to Kafka survive kill -9 of the invoicing process', () => {
  let db: TestDatabase;
  let app: RunningService | undefined;
  const topic = uniqueName('billing-notices');
  let env: Record<string, string>;

  before(async () => {
    db = await freshDatabase('notices_kill');
    // Metering's views first: the invoicing process waits at boot until they are there.
    await migrateApps(db, 'metering');
    await ensureInvoicingSchema(db.pool);
    env = {
      DATABASE_URL: db.url,
      ADMIN_TOKEN: ADMIN,
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      BILLING_NOTICES_TOPIC: topic,
      // A gateway nobody answers at: charging is not what this test is about.
      GATEWAY_URL: 'http://127.0.0.1:9',
      GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
      GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
      GATEWAY_WEBHOOK_SECRET: 'whsec_notices_kill',
      CHARGE_EVERY_SECONDS: '3600',
      INVOICE_FINALIZE_EVERY_SECONDS: '3600',
      HOST: '127.0.0.1',
    };
  });
  after(async () => {
    await app?.kill('SIGKILL');
    await db?.drop();
  });

  test('killed at random moments while publishing: every notice reaches the topic, each copy has the same id and body and is a CloudEvent to the SDK', async (t) => {
    // Notices keep being written (5 per transaction) for as long as the process is killed and started again.
    let written = 0;
    let killing = true;
    const writing = (async () => {
      while (killing) {
        const batch = Array.from({ length: 5 }, (_, i) =>
          accountNotice('account.suspended', `acct-${(written + i) % 7}`, written + i + 1, new Date(), { n: written + i }),
        );
        await withTransaction(db.pool, (client) => recordNotices(client, batch));
        written += batch.length;
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    const start = async () => startService('invoicing', { ...env, INVOICING_PORT: String(await freePort()) });
    for (let kill = 0; kill < KILLS; kill++) {
      app = await start();
      await new Promise((r) => setTimeout(r, 800 + Math.random() * 1_600));
      await app.kill('SIGKILL');
    }
    killing = false;
    await writing;
    const before = (await db.pool.query<{ n: number }>('select count(published_at)::int as n from invoicing.notices')).rows[0]!.n;
    assert.ok(before > 0 && before < written, `the killed processes were publishing (${before} of ${written})`);
    app = await start();
    await eventually(
      'every notice published',
      async () => (await db.pool.query('select 1 from invoicing.notices where published_at is null limit 1')).rowCount === 0,
      60_000,
    );
    await app.kill('SIGTERM');
    app = undefined;

    const stored = new Map(
      (await db.pool.query<{ id: string; event: string }>('select id, event::text as event from invoicing.notices')).rows.map((r) => [
        r.id,
        r.event,
      ]),
    );
    assert.equal(stored.size, written);
    const copies = new Map<string, string[]>();
    const kafka = new Kafka({ clientId: 'notices-kill-test', brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: uniqueName('notices-kill-reader') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const body = message.value!.toString('utf8');
          const id = (JSON.parse(body) as { id: string }).id;
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          const received: KafkaMessage<string> = {
            key: message.key?.toString() ?? '',
            value: body,
            body,
            headers,
            timestamp: message.timestamp,
          };
          const event = CloudEventsKafka.toEvent(received);
          assert.ok(!Array.isArray(event) && event.id === id && event.source === 'vault-invoicing', `${id}: read by the SDK`);
          copies.set(id, [...(copies.get(id) ?? []), body]);
          assert.equal(message.key?.toString(), (JSON.parse(body) as { data: { account_id: string } }).data.account_id);
        },
      });
      await eventually(
        () => `${copies.size} of ${written} notices read back`,
        () => copies.size >= written,
        60_000,
      );
    } finally {
      await consumer.disconnect();
    }
    for (const [id, event] of stored) {
      const seen = copies.get(id);
      assert.ok(seen && seen.length >= 1, `${id} reached the topic`);
      for (const copy of seen) assert.equal(copy, event, `every copy of ${id} is the stored event`);
    }
    assert.deepEqual(
      [...copies.keys()].filter((id) => !stored.has(id)),
      [],
      'nothing else on the topic',
    );
    const again = [...copies.values()].filter((c) => c.length > 1).length;
    t.diagnostic(`${written} notices, ${KILLS} kills, ${before} published before the last start, ${again} published more than once`);
  });
});

// Partitions added to the notices topic keep its log (describeLog's id), and
// the publisher's keys picked a partition by the count the topic has now: an
// account's later notices went to another partition than its earlier ones, and
// a consumer could read `account.reinstated` before the `account.suspended` it
// follows. The count the log had when the publisher first met it is kept
// (migration 025) and keys are spread over that many partitions. Against the
// real Kafka broker and PostgreSQL.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { withTransaction } from '@vault/db';
import { memoryLogger } from '@vault/runtime';
import { eventually, freshDatabase, testKafkaBrokers, uniqueName, type TestDatabase } from '@vault/testkit';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { accountNotice } from '../src/notices/notice.ts';
import { recordNotices } from '../src/notices/outbox.ts';
import { startNoticePublisher } from '../src/notices/publisher.ts';

const LONG = { timeout: 240_000 };
const ACCOUNTS = 40;

describe('notices when partitions are added to the topic (real Kafka broker, real PostgreSQL)', () => {
  let db: TestDatabase | undefined;
  let admin: Admin | undefined;
  after(async () => {
    await admin?.disconnect();
    await db?.drop();
  });

  /** Two notices for each account, numbered from `round`. */
  async function write(round: number) {
    const batch = Array.from({ length: ACCOUNTS * 2 }, (_, i) =>
      accountNotice('account.suspended', `acct-${i % ACCOUNTS}`, round * 10 + Math.floor(i / ACCOUNTS), new Date(), { round }),
    );
    await withTransaction(db!.pool, (client) => recordNotices(client, batch));
  }

  /** Publishes what is pending with a publisher of its own (a fresh producer: it sees the partitions the topic has now). */
  async function publishAll(topic: string) {
    const publisher = startNoticePublisher({ pool: db!.pool, brokers: testKafkaBrokers(), topic, log: memoryLogger(), everyMs: 100 });
    try {
      await eventually(
        'every notice published',
        async () => (await db!.pool.query('select 1 from invoicing.notices where published_at is null limit 1')).rowCount === 0,
        60_000,
      );
    } finally {
      await publisher.stop();
    }
  }

  /** Every message on the topic: each account's notice ids in the order read, and the partitions they were in. */
  async function readTopic(topic: string, expected: number) {
    const byAccount = new Map<string, { ids: string[]; partitions: Set<number> }>();
    let count = 0;
    const kafka = new Kafka({ clientId: 'notices-partitions-reader', brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: uniqueName('notices-partitions-reader') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const key = message.key!.toString();
          const seen = byAccount.get(key) ?? { ids: [], partitions: new Set<number>() };
          seen.ids.push((JSON.parse(message.value!.toString('utf8')) as { id: string }).id);
          seen.partitions.add(partition);
          byAccount.set(key, seen);
          count++;
        },
      });
      await eventually(
        () => `${count} of ${expected} read back`,
        () => count >= expected,
        60_000,
      );
    } finally {
      await consumer.disconnect();
    }
    return byAccount;
  }

  test(
    'each account’s notices stay in the partition its first went to, in order, after the topic goes from 3 to 6 partitions',
    LONG,
    async () => {
      db = await freshDatabase('notices_partitions');
      await ensureInvoicingSchema(db.pool);
      admin = new Kafka({ brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      const topic = uniqueName('billing-notices');

      await write(1);
      await publishAll(topic);
      assert.equal((await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length, 3, 'made with 3');
      await admin.createPartitions({ topicPartitions: [{ topic, count: 6 }] });
      await eventually(
        '6 partitions',
        async () => (await admin!.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length === 6,
      );
      await write(2);
      await publishAll(topic);

      const read = await readTopic(topic, ACCOUNTS * 4);
      assert.equal(read.size, ACCOUNTS);
      const { rows } = await db.pool.query<{ id: string; account_id: string }>(
        'select id, account_id from invoicing.notices order by position',
      );
      for (const [account, seen] of read) {
        assert.deepEqual([...seen.partitions].length, 1, `${account}: one partition, got ${[...seen.partitions].join(',')}`);
        assert.ok([...seen.partitions][0]! < 3, `${account}: a partition the topic had when the publisher met it`);
        assert.deepEqual(
          seen.ids,
          rows.filter((r) => r.account_id === account).map((r) => r.id),
          `${account}: in order`,
        );
      }
      const kept = await db.pool.query<{ partitions: number }>('select partitions from invoicing.notices_logs');
      assert.deepEqual(
        kept.rows.map((r) => r.partitions),
        [3],
      );
    },
  );
});

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createEmbeddedBus, createKafkaBus, type Bus } from '@vault/bus';
import { eventually, recreateTopic, testKafkaBrokers, uniqueName, type TestDatabase } from '@vault/testkit';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { billingStream } from '../bench/stream.ts';
import { meteringDatabase } from './harness.ts';
import { assertExactlyOnce, runMetering } from './log-harness.ts';

// A first wave read by metering, then a smaller second one in the new log: a
// re-send of the first wave's start and new events. Every offset of the second
// wave is below the position metering stored in the first log, so a position
// taken for the new log's would skip all of it.
const stream = (prefix: string) => [...billingStream({ events: 1_000, seed: 16, prefix, duplicateRate: 0 })];
const waves = (prefix: string) => {
  const all = stream(prefix);
  const first = all.slice(0, 700);
  const second = [...first.slice(0, 100), ...all.slice(700)];
  return { first, second, published: [...first, ...second] };
};
const LONG = { timeout: 180_000 };

describe('metering when the log under its topic changes (real Kafka broker, real PostgreSQL)', () => {
  const open: { dbs: TestDatabase[]; buses: Bus[]; admins: Admin[] } = { dbs: [], buses: [], admins: [] };
  after(async () => {
    for (const a of open.admins) await a.disconnect();
    for (const b of open.buses) await b.close();
    for (const d of open.dbs) await d.drop();
  });

  async function kafka() {
    const bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: uniqueName('log-test') });
    const admin = new Kafka({ brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    open.buses.push(bus);
    open.admins.push(admin);
    return { bus, admin };
  }

  async function database() {
    const db = await meteringDatabase();
    open.dbs.push(db);
    return db;
  }

  test(
    'a topic deleted and created again is read from its start: every event applied exactly once, re-sends counted as duplicates',
    LONG,
    async () => {
      const db = await database();
      const { bus, admin } = await kafka();
      const topic = uniqueName('billing');
      const group = uniqueName('metering');
      const { first, second, published } = waves(uniqueName('recreated'));
      await bus.ensureTopic(topic, 3);
      const before = await bus.describeLog(topic);
      await bus.publish(topic, first);
      const one = await runMetering(db, bus, topic, group);
      await one.drained(first.length);
      await one.stop();

      const now = { id: (await recreateTopic(admin, topic, 3, () => bus.describeLog(topic))).now };
      await bus.publish(topic, second);

      const two = await runMetering(db, bus, topic, group);
      const final = await two.drained(published.length);
      await two.stop();
      await assertExactlyOnce(db, final, published);
      assert.ok(!two.lines.some((l) => l.includes('replayed_skipped')), 'nothing of the new log skipped');
      const changes = final.log_changes;
      assert.deepEqual(
        changes.filter((c) => c.partition === null).map((c) => [c.from_log, c.to_log, c.reason]),
        [[before.id, now.id, 'another log than when metering last started']],
      );
      assert.deepEqual(
        changes
          .filter((c) => c.partition !== null)
          .map((c) => [c.partition, c.from_log, c.to_log, c.reason])
          .sort(),
        [0, 1, 2].map((p) => [p, before.id, now.id, 'the batch comes from another log']),
      );
      assert.ok(two.lines.some((l) => l.includes('event=metering.log_changed') && l.includes('partition=0')));
    },
  );

  test(
    'partitions added keep the positions of the others and read the new ones from their start: every event applied exactly once',
    LONG,
    async () => {
      const db = await database();
      const { bus, admin } = await kafka();
      const topic = uniqueName('billing');
      const group = uniqueName('metering');
      const { first, second, published } = waves(uniqueName('grown'));
      await bus.ensureTopic(topic, 2);
      await bus.publish(topic, first);
      const one = await runMetering(db, bus, topic, group);
      await one.drained(first.length);
      await one.stop();

      await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
      await eventually('4 partitions', async () => (await bus.describeLog(topic)).partitions === 4);
      // A new producer: the key→partition mapping now spreads a subject's later events over 4 partitions.
      const { bus: publisher } = await kafka();
      await publisher.publish(topic, second);
      assert.ok(
        (await publisher.bounds(topic)).filter((b) => b.partition >= 2).some((b) => b.end !== '0'),
        'the new partitions got events',
      );

      const two = await runMetering(db, bus, topic, group);
      const final = await two.drained(published.length);
      await two.stop();
      await assertExactlyOnce(db, final, published);
      const log = (await bus.describeLog(topic)).id;
      assert.deepEqual(
        final.log_changes.map((c) => [c.partition, c.from_log, c.to_log, c.reason]),
        [[null, log, log, 'partitions 2 → 4 in the same log']],
      );
    },
  );

  test(
    'the embedded bus, then Kafka, on one database: the Kafka log is read from its start, every event applied exactly once',
    LONG,
    async () => {
      const db = await database();
      const topic = uniqueName('billing');
      const group = uniqueName('metering');
      const { first, second, published } = waves(uniqueName('switched'));
      const embedded = await createEmbeddedBus({ pool: db.pool, url: db.url });
      open.buses.push(embedded);
      await embedded.ensureTopic(topic, 3);
      await embedded.publish(topic, first);
      const one = await runMetering(db, embedded, topic, group);
      await one.drained(first.length);
      await one.stop();
      const before = await embedded.describeLog(topic);

      const { bus } = await kafka();
      await bus.ensureTopic(topic, 3);
      await bus.publish(topic, second);
      const two = await runMetering(db, bus, topic, group);
      const final = await two.drained(published.length);
      await two.stop();
      await assertExactlyOnce(db, final, published);
      const now = await bus.describeLog(topic);
      assert.match(before.id, /^embedded:/);
      assert.match(now.id, /^kafka:/);
      assert.deepEqual(
        final.log_changes.filter((c) => c.partition === null).map((c) => [c.from_log, c.to_log]),
        [[before.id, now.id]],
      );
    },
  );
});

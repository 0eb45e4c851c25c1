import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { eventually, freePort, testKafkaBrokers, uniqueName } from '@vault/testkit';
import { type Bus, BusUnreachableError, createKafkaBus } from '../src/index.ts';
import { busConformance } from './conformance.ts';

busConformance('Kafka (kafkajs, real broker)', async () => {
  const brokers = testKafkaBrokers();
  const bus = await createKafkaBus({ brokers, clientId: 'conformance' });
  return { bus, child: { kind: 'kafka', target: brokers.join(',') }, close: () => bus.close() };
});

describe('Kafka that does not answer', () => {
  test("is a BusUnreachableError naming KAFKA_BROKERS and each broker's problem within seconds, not after kafkajs's retries", async () => {
    const closed = await freePort();
    const started = Date.now();
    await assert.rejects(
      createKafkaBus({ brokers: [`127.0.0.1:${closed}`, 'kafka.invalid:9092'], clientId: 'unreachable' }),
      (err: unknown) => {
        assert.ok(err instanceof BusUnreachableError);
        assert.equal(err.variable, 'KAFKA_BROKERS');
        assert.match(
          err.message,
          new RegExp(
            `^KAFKA_BROKERS: cannot reach Kafka at 127\\.0\\.0\\.1:${closed},kafka\\.invalid:9092: 127\\.0\\.0\\.1:${closed} connection refused; kafka\\.invalid:9092 host does not resolve`,
          ),
        );
        return true;
      },
    );
    assert.ok(Date.now() - started < 5_000);
  });
});

/** A Kafka bus and an admin client of our own (another platform client), closed after `body`. */
async function withBusAndAdmin(clientId: string, body: (bus: Bus, admin: Admin) => Promise<void>): Promise<void> {
  const bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId });
  const admin = new Kafka({ brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await body(bus, admin);
  } finally {
    await admin.disconnect();
    await bus.close();
  }
}

describe('Kafka log identity', () => {
  test('asked while the broker does not host the topic yet (created a moment later by another client, as at a first boot), describeLog waits for it instead of failing', () =>
    withBusAndAdmin('identity-early', async (bus, admin) => {
      const topic = uniqueName('identity-early');
      const asked = bus.describeLog(topic);
      await new Promise((r) => setTimeout(r, 1_000));
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
      const log = await asked;
      assert.match(log.id, new RegExp(`^kafka:[^/]+/${topic}/[0-9a-f]{32}$`));
      assert.equal(log.partitions, 2);
      // A topic that never comes is still an error, once the wait is over.
      await assert.rejects(bus.describeLog(uniqueName('never')), /does not host this topic-partition|answered error 3/);
    }));

  test('a topic deleted and created again under the same name is another log (its topic id); partitions added keep the log', () =>
    withBusAndAdmin('identity', async (bus, admin) => {
      const topic = uniqueName('identity');
      await bus.ensureTopic(topic, 2);
      const before = await bus.describeLog(topic);
      assert.match(before.id, new RegExp(`^kafka:[^/]+/${topic}/[0-9a-f]{32}$`));
      assert.equal(before.partitions, 2);
      await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] });
      const grown = await bus.describeLog(topic);
      assert.deepEqual(grown, { id: before.id, partitions: 3 });
      await admin.deleteTopics({ topics: [topic] });
      await eventually('the topic gone', async () => !(await admin.listTopics()).includes(topic));
      // Created again just after the deletion, the broker may still answer for a
      // moment that it does not host the topic: ask until it does.
      await eventually('the topic created again', async () => {
        await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true }).catch(() => {});
        return (await bus.describeLog(topic).catch(() => undefined))?.partitions === 2;
      });
      const after = await bus.describeLog(topic);
      assert.notEqual(after.id, before.id);
      assert.equal(after.id.split('/')[0], before.id.split('/')[0], 'the same cluster');
    }));
});

describe('Kafka: the next fetch is queued while batches are handled', () => {
  test('at most partitionsConcurrently batches are handled at once, each partition in publish order, every message once', {
    timeout: 90_000,
  }, async () => {
    const bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: 'ahead' });
    const topic = uniqueName('ahead');
    try {
      await bus.ensureTopic(topic, 6);
      const messages = Array.from({ length: 600 }, (_, i) => ({ key: `k-${i % 12}`, value: `${i % 12}:${i}` }));
      await bus.publish(topic, messages);
      const seen = new Map<string, number[]>();
      let running = 0;
      let most = 0;
      const consumer = await bus.consume({
        topic,
        groupId: uniqueName('g'),
        maxBatchSize: 20,
        partitionsConcurrently: 2,
        eachBatch: async (batch) => {
          running++;
          most = Math.max(most, running);
          await new Promise((r) => setTimeout(r, 15));
          for (const m of batch.messages) {
            const [key, n] = String(m.value).split(':');
            seen.set(key!, [...(seen.get(key!) ?? []), Number(n)]);
          }
          running--;
        },
      });
      await eventually('every message', () => [...seen.values()].reduce((a, l) => a + l.length, 0) >= 600, 60_000);
      assert.equal(most, 2, 'two partitions handled at once, never more');
      for (const [key, ns] of seen) {
        assert.deepEqual(
          ns,
          [...ns].sort((a, b) => a - b),
          `key ${key} in publish order`,
        );
        assert.equal(ns.length, 50, `key ${key} once each`);
      }
      await consumer.stop();
    } finally {
      await bus.close();
    }
  });
});

describe('Kafka: a member the group forgot joins again', () => {
  test('a batch held past the session timeout (a database outage): the batch fetched meanwhile was queued behind it, the group forgets the member, which joins again, healthy, and reads on', {
    timeout: 120_000,
  }, async () => {
    // What happened, in order: messages handled and the member's joins.
    const trail: string[] = [];
    const bus = await createKafkaBus({
      brokers: testKafkaBrokers(),
      clientId: 'forgotten',
      log: (event) => {
        if (event === 'bus.joined') trail.push('joined');
      },
    });
    const topic = uniqueName('forgotten');
    try {
      await bus.ensureTopic(topic, 1);
      let held = false;
      const consumer = await bus.consume({
        topic,
        groupId: uniqueName('g'),
        sessionTimeoutMs: 6_000,
        eachBatch: async (batch) => {
          if (!held) {
            held = true;
            // No heartbeat for longer than the session: the coordinator drops the member.
            await new Promise((r) => setTimeout(r, 9_000));
          }
          for (const m of batch.messages) trail.push(String(m.value));
        },
      });
      await bus.publish(topic, [{ key: 'k', value: 'first' }]);
      await eventually('the batch held', () => held, 30_000);
      await bus.publish(topic, [{ key: 'k', value: 'second' }]);
      const state = () => `trail ${trail.join(',')}, healthy ${consumer.isHealthy()}, failure ${consumer.failure()}`;
      // A join after the first message was handled: the member's own, once forgotten.
      const rejoined = () => {
        const first = trail.indexOf('first');
        return first < 0 ? -1 : trail.indexOf('joined', first);
      };
      await eventually(
        () => `a join after the first message (${state()})`,
        () => rejoined() > 0,
        60_000,
      );
      // Fetched while the first was held (one fetch ahead), the second was handled right behind it, before the member joined again.
      assert.equal(trail.indexOf('second'), trail.indexOf('first') + 1, state());
      assert.ok(trail.indexOf('second') < rejoined(), state());
      await bus.publish(topic, [{ key: 'k', value: 'third' }]);
      await eventually(
        () => `the new member reads on (${state()})`,
        () => trail.includes('third'),
        45_000,
      );
      assert.equal(consumer.isHealthy(), true);
      assert.equal(consumer.failure(), undefined);
      await consumer.stop();
    } finally {
      await bus.close();
    }
  });
});

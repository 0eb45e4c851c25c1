import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { eventually, freshDatabase, uniqueName } from '@vault/testkit';
import { createEmbeddedBus } from '../src/index.ts';
import { busConformance } from './conformance.ts';
import { withBus } from './embedded-fixture.ts';

busConformance('embedded bus (PostgreSQL)', async () => {
  const db = await freshDatabase('bus');
  const bus = await createEmbeddedBus({ pool: db.pool, url: db.url });
  return {
    bus,
    child: { kind: 'embedded', target: db.url },
    close: async () => {
      await bus.close();
      await db.drop();
    },
  };
});

describe('embedded bus: record headers', () => {
  test('a batch with a message carrying headers is refused whole, naming the topic: the log keeps no headers, so none are dropped', () =>
    withBus('busheaders', async ({ bus }) => {
      const topic = uniqueName('headers');
      await bus.ensureTopic(topic, 2);
      await assert.rejects(
        bus.publish(topic, [
          { key: 'a', value: 'plain' },
          { key: 'b', value: '{}', headers: { 'content-type': 'application/cloudevents+json' } },
        ]),
        new RegExp(`the embedded bus keeps no record headers: publish to ${topic} without them`),
      );
      assert.equal(await bus.lag(topic, uniqueName('g')), 0, 'nothing of the batch was appended');
      await bus.publish(topic, [{ key: 'a', value: 'plain', headers: {} }]);
      assert.equal(await bus.lag(topic, uniqueName('g')), 1, 'no headers at all is fine');
    }));
});

describe('embedded bus: a member whose host vanishes', () => {
  test("its session asks the server for TCP keepalives and a user timeout, so the server ends it (and frees its partitions) within about a minute, not the system's two hours", async () => {
    const db = await freshDatabase('buskeepalive');
    const bus = await createEmbeddedBus({ pool: db.pool, url: db.url });
    try {
      const topic = uniqueName('keepalive');
      await bus.ensureTopic(topic, 1);
      const consumer = await bus.consume({ topic, groupId: uniqueName('g'), eachBatch: async () => {} });
      // The member's own session (private to the consumer): the settings as the server applies them.
      const session = () => (consumer as unknown as { client?: pg.Client }).client;
      await eventually('the member connected', () => session() !== undefined);
      const { rows } = await session()!.query<{ idle: string; interval: string; count: string; user_timeout: string }>(
        `select current_setting('tcp_keepalives_idle') as idle, current_setting('tcp_keepalives_interval') as interval,
                current_setting('tcp_keepalives_count') as count, current_setting('tcp_user_timeout') as user_timeout`,
      );
      assert.deepEqual(rows[0], { idle: '30', interval: '10', count: '3', user_timeout: '60000' });
      await consumer.stop();
    } finally {
      await bus.close();
      await db.drop();
    }
  });
});

describe('embedded bus: a consumer stops only on what waiting cannot cure', () => {
  test('a handler that keeps failing is retried and the consumer stays healthy; the bus tables gone stop it, unhealthy, naming why', async () => {
    const db = await freshDatabase('busstop');
    const bus = await createEmbeddedBus({ pool: db.pool, url: db.url });
    try {
      const topic = uniqueName('stop');
      await bus.ensureTopic(topic, 2);
      let attempts = 0;
      const consumer = await bus.consume({
        topic,
        groupId: uniqueName('g'),
        eachBatch: async () => {
          attempts++;
          // Not even a TypeError stops it: the handler's errors are the handler's to cure.
          throw new TypeError('handler bug');
        },
      });
      await bus.publish(topic, [{ key: 'k', value: 'v' }]);
      await eventually('the batch retried', () => attempts >= 3);
      assert.equal(consumer.isHealthy(), true);
      assert.equal(consumer.failure(), undefined);

      await db.pool.query('drop schema bus cascade');
      await eventually('the consumer stopped', () => !consumer.isHealthy());
      assert.match(consumer.failure() ?? '', /^relation "bus\.\w+" does not exist$/);
      await consumer.stop();
      assert.equal(consumer.isHealthy(), false, 'stop() after a crash is harmless, and it stays unhealthy');
    } finally {
      await bus.close();
      await db.drop();
    }
  });
});

describe('embedded bus: a group is made of the sessions of its own database', () => {
  test('a consumer of the same group and topic in another database on the server takes none of this one’s partitions', async () => {
    const [a, b] = await Promise.all([freshDatabase('busgroupa'), freshDatabase('busgroupb')]);
    const [busA, busB] = await Promise.all([
      createEmbeddedBus({ pool: a.pool, url: a.url }),
      createEmbeddedBus({ pool: b.pool, url: b.url }),
    ]);
    // The same names in both databases, as two installations on one server have.
    const topic = uniqueName('shared');
    const groupId = uniqueName('metering');
    try {
      await Promise.all([busA.ensureTopic(topic, 4), busB.ensureTopic(topic, 4)]);
      const seenA = new Set<string>();
      const seenB = new Set<string>();
      const consume = (bus: typeof busA, seen: Set<string>) =>
        bus.consume({
          topic,
          groupId,
          eachBatch: async (batch) => {
            for (const m of batch.messages) seen.add(String(m.value));
          },
        });
      const [consumerA, consumerB] = await Promise.all([consume(busA, seenA), consume(busB, seenB)]);
      const values = Array.from({ length: 40 }, (_, i) => `m${i}`);
      await Promise.all([
        busA.publish(
          topic,
          values.map((v) => ({ key: v, value: v })),
        ),
        busB.publish(
          topic,
          values.map((v) => ({ key: v, value: v })),
        ),
      ]);
      await eventually(
        () => `each database’s consumer to read all 40 (a: ${seenA.size}, b: ${seenB.size})`,
        () => seenA.size === 40 && seenB.size === 40,
        15_000,
      );
      assert.deepEqual(consumerA.assignment(), [0, 1, 2, 3]);
      assert.deepEqual(consumerB.assignment(), [0, 1, 2, 3]);
      await Promise.all([consumerA.stop(), consumerB.stop()]);
    } finally {
      await Promise.all([busA.close(), busB.close()]);
      await Promise.all([a.drop(), b.drop()]);
    }
  });
});

describe('embedded bus log identity', () => {
  test('a topic deleted and created again, or the bus schema dropped and migrated again, is another log', async () => {
    const db = await freshDatabase('busid');
    try {
      const bus = await createEmbeddedBus({ pool: db.pool, url: db.url });
      const topic = uniqueName('identity');
      await bus.ensureTopic(topic, 2);
      const first = await bus.describeLog(topic);
      assert.match(first.id, new RegExp(`^embedded:[0-9a-f-]{36}/${topic}/[0-9a-f-]{36}$`));
      assert.equal(first.partitions, 2);
      await db.pool.query('delete from bus.partitions where topic = $1', [topic]);
      await db.pool.query('delete from bus.topics where topic = $1', [topic]);
      await bus.ensureTopic(topic, 2);
      const recreated = await bus.describeLog(topic);
      assert.notEqual(recreated.id, first.id);
      assert.equal(recreated.id.split('/')[0], first.id.split('/')[0], 'the same bus');
      await bus.close();
      await db.pool.query('drop schema bus cascade');
      const again = await createEmbeddedBus({ pool: db.pool, url: db.url });
      await again.ensureTopic(topic, 2);
      assert.notEqual((await again.describeLog(topic)).id.split('/')[0], first.id.split('/')[0], 'another bus');
      await again.close();
    } finally {
      await db.drop();
    }
  });
});

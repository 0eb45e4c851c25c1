import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually, freshDatabase, uniqueName } from '@vault/testkit';
import { createEmbeddedBus } from '../src/index.ts';
import { busConformance } from './conformance.ts';

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

// `vault publish` to a fresh Kafka: a new bus creates the events topic (ensureTopic) and
// publishes to it at once. Kafka (KRaft) answers for a moment after the create that it
// does not host the topic-partition; that answer must not reach the caller.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testKafkaBrokers, uniqueName } from '@vault/testkit';
import { createKafkaBus } from '../src/index.ts';

describe('Kafka: the first publish to a topic just created', { timeout: 300_000 }, () => {
  test('20 new buses at once each create a fresh topic and publish to it at once: every one succeeds', async () => {
    const brokers = testKafkaBrokers();
    // At once: the broker, busy creating the others, takes longer to host each new topic.
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const topic = uniqueName('first-publish');
        const bus = await createKafkaBus({ brokers, clientId: 'first-publish' });
        let step = 'ensureTopic';
        try {
          await bus.ensureTopic(topic, 6, { brokerTimestamps: true });
          step = 'publish';
          await bus.publish(topic, [{ key: 'k', value: `v${i}` }]);
          // Written once: the wait is before the send, never a send again.
          const written = (await bus.bounds(topic)).reduce((n, b) => n + Number(b.end) - Number(b.start), 0);
          return written === 1 ? 'ok' : `publish: ${written} messages written`;
        } catch (err) {
          return `${step}: ${(err as Error).message}`;
        } finally {
          await bus.close();
        }
      }),
    );
    assert.deepEqual(
      outcomes.filter((o) => o !== 'ok'),
      [],
    );
  });
});

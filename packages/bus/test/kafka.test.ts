import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freePort, testKafkaBrokers } from '@vault/testkit';
import { BusUnreachableError, createKafkaBus } from '../src/index.ts';
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

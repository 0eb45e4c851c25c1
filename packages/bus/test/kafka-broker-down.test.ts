// A publish while the broker is stopped: kafkajs retried a connection with the
// client's schedule nested in the send's own, and the publish rejected after
// 213 s (KafkaJSNonRetriableError ECONNREFUSED), holding its caller (metering's
// HTTP door) all that time. The producer now has a retry schedule of its own,
// bounded: the publish rejects within about 8 s. The producer whose send failed
// is replaced (bus.publish_failed), and once the broker is back the next publish
// is durable and read back. A broker of its own: the shared one is never stopped.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startKafka, stopKafka } from '@vault/kafka-local';
import { eventually, freePort, uniqueName } from '@vault/testkit';
import { type Bus, createKafkaBus } from '../src/index.ts';

/** What a publish may take against a stopped broker: the producer's schedule (about 8 s) and room. */
const GIVES_UP_WITHIN_MS = 12_000;

describe('Kafka: a publish while the broker is stopped (a broker of its own)', { timeout: 240_000 }, () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bus-broker-down-'));
  let ports: { port: number; controllerPort: number };
  let bus: Bus;
  const logged: string[] = [];
  const start = () => startKafka({ stateDir, ...ports, timeoutMs: 90_000 });

  before(async () => {
    ports = { port: await freePort(), controllerPort: await freePort() };
    const { brokers } = await start();
    bus = await createKafkaBus({ brokers: [brokers], clientId: 'broker-down', log: (event) => logged.push(event) });
  });
  after(async () => {
    await bus?.close().catch(() => {});
    await stopKafka({ stateDir });
    rmSync(stateDir, { recursive: true, force: true });
  });

  /** How long `publish` took to reject, or a failure naming how long it was held. */
  const rejectedWithin = async (topic: string, value: string) => {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const held = new Promise<'held'>((resolve) => {
      timer = setTimeout(() => resolve('held'), GIVES_UP_WITHIN_MS);
    });
    const outcome = await Promise.race([
      bus.publish(topic, [{ key: 'a', value }]).then(
        () => 'resolved' as const,
        () => 'rejected' as const,
      ),
      held,
    ]);
    clearTimeout(timer);
    assert.equal(outcome, 'rejected', `a publish to a stopped broker was ${outcome} after ${(performance.now() - started).toFixed(0)} ms`);
    return performance.now() - started;
  };

  test('it rejects within 12 s, again while the broker stays down, and once it is back the next publish is read back', async () => {
    const topic = uniqueName('down');
    await bus.ensureTopic(topic, 3);
    await bus.publish(topic, [{ key: 'a', value: 'before' }]);

    await stopKafka({ stateDir });
    await rejectedWithin(topic, 'lost 1');
    await rejectedWithin(topic, 'lost 2');
    assert.ok(logged.includes('bus.publish_failed'), logged.join(' '));

    await start();
    await bus.publish(topic, [{ key: 'a', value: 'after' }]);
    const read: string[] = [];
    const consumer = await bus.consume({
      topic,
      groupId: uniqueName('g'),
      eachBatch: async (batch) => {
        for (const m of batch.messages) read.push(m.value.toString());
      },
    });
    try {
      await eventually(
        () => `read ${read.join(',')}`,
        () => read.includes('after'),
        60_000,
      );
      assert.deepEqual(
        read.filter((v) => v === 'before' || v === 'after'),
        ['before', 'after'],
      );
    } finally {
      await consumer.stop();
    }
  });
});

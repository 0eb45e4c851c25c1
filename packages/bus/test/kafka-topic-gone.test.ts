// A topic deleted by an operator while the apps run, on a broker configured as
// Kafka ships (`auto.create.topics.enable=true`, one partition by default): the
// next send and a running consumer's metadata requests made it again with the
// broker's defaults (one partition, one copy, seven days), and the bus, which
// finds the topic there, never made it as it was. The bus's clients now never
// ask for a topic to be created; a publish that fails on a topic this bus
// ensured makes it again with its partitions and configuration. A broker of
// its own (the shared test broker refuses auto-creation, as the project's
// configuration does).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { startKafka, stopKafka } from '@vault/kafka-local';
import { eventually, freePort, uniqueName } from '@vault/testkit';
import { type Bus, createKafkaBus } from '../src/index.ts';

const LONG = { timeout: 180_000 };

describe('Kafka: a topic deleted under a running bus, on a broker that auto-creates topics', LONG, () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bus-topic-gone-'));
  let brokers: string;
  let admin: Admin;
  let bus: Bus;
  const logged: string[] = [];

  before(async () => {
    const port = await freePort();
    const started = await startKafka({
      stateDir,
      port,
      controllerPort: await freePort(),
      timeoutMs: 90_000,
      properties: { 'auto.create.topics.enable': 'true', 'num.partitions': 1 },
    });
    brokers = started.brokers;
    admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    // Few retries: a send to a topic that is gone fails in seconds instead of kafkajs's two minutes.
    bus = await createKafkaBus({ brokers: [brokers], clientId: 'topic-gone', retries: 2, log: (event) => logged.push(event) });
  });
  after(async () => {
    await bus?.close();
    await admin?.disconnect();
    await stopKafka({ stateDir });
    rmSync(stateDir, { recursive: true, force: true });
  });

  const partitionsOf = async (topic: string) => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length;
  const retentionOf = async (topic: string) => {
    const { resources } = await admin.describeConfigs({
      resources: [{ type: 2, name: topic, configNames: ['retention.ms'] }],
      includeSynonyms: false,
    });
    return resources[0]!.configEntries.find((e) => e.configName === 'retention.ms')!.configValue;
  };

  test('a publish to it fails, the bus makes it again with its 3 partitions and kept forever, and the next publish is read back', async () => {
    const topic = uniqueName('gone');
    await bus.ensureTopic(topic, 3, { keepForever: true });
    assert.equal(await retentionOf(topic), '-1', 'kept until an operator says otherwise');
    await bus.publish(topic, [{ key: 'a', value: 'before' }]);
    await admin.deleteTopics({ topics: [topic] });
    await eventually('the topic deleted', async () => !(await admin.listTopics()).includes(topic));

    await assert.rejects(bus.publish(topic, [{ key: 'a', value: 'lost send' }]));
    assert.deepEqual(await admin.listTopics().then((t) => t.filter((x) => x === topic)), [topic], 'made again by the bus');
    assert.equal(await partitionsOf(topic), 3, 'as the bus ensured it, not the broker’s one partition');
    assert.equal(await retentionOf(topic), '-1');
    assert.ok(logged.includes('bus.topic_created_again'), logged.join(' '));

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
        () => read.length >= 1,
        60_000,
      );
      assert.deepEqual(read, ['after']);
    } finally {
      await consumer.stop();
    }
  });

  test('a running consumer does not make it again with the broker’s defaults', async () => {
    const topic = uniqueName('gone-consumed');
    await bus.ensureTopic(topic, 3);
    const consumer = await bus.consume({ topic, groupId: uniqueName('g'), eachBatch: async () => {} });
    try {
      await eventually('the consumer joined', () => consumer.assignment().length === 3, 60_000);
      await admin.deleteTopics({ topics: [topic] });
      await eventually('the topic deleted', async () => !(await admin.listTopics()).includes(topic));
      // Its fetches fail and it asks for the topic's metadata again, and again: long enough for
      // an auto-creating request to have made it (it did within a second or two).
      await sleep(8_000);
      assert.ok(!(await admin.listTopics()).includes(topic), 'not made again by the consumer');
    } finally {
      await consumer.stop();
    }
  });
});

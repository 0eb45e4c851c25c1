// useBrokerTimestamps on a topic made with Kafka's default (CreateTime): set to LogAppendTime by
// the full AlterConfigs kafkajs has, which replaces every config set on the topic, so the
// topic's own ones (retention.ms here) must be sent again. The shared test broker.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { testKafkaBrokers, uniqueName } from '@vault/testkit';
import { type Bus, createKafkaBus } from '../src/index.ts';

const LONG = { timeout: 120_000 };

describe('Kafka: an existing topic switched to broker timestamps', () => {
  let bus: Bus;
  let admin: Admin;
  before(async () => {
    bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: uniqueName('ts-type') });
    admin = new Kafka({ brokers: testKafkaBrokers(), clientId: uniqueName('ts-type-admin'), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });
  after(async () => {
    await admin.disconnect();
    await bus.close();
  });
  const configs = async (topic: string) => {
    const { resources } = await admin.describeConfigs({ resources: [{ type: 2, name: topic }], includeSynonyms: false });
    return new Map(resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
  };

  test('a CreateTime topic kept forever becomes LogAppendTime and is still kept forever; a second call changes nothing', LONG, async () => {
    const topic = uniqueName('ts-type');
    await bus.ensureTopic(topic, 1, { keepForever: true });
    assert.equal((await configs(topic)).get('message.timestamp.type'), 'CreateTime');
    assert.equal(await bus.useBrokerTimestamps!(topic), 'CreateTime');
    const now = await configs(topic);
    assert.equal(now.get('message.timestamp.type'), 'LogAppendTime');
    assert.equal(now.get('retention.ms'), '-1', 'the topic’s other configs kept');
    assert.equal(await bus.useBrokerTimestamps!(topic), 'LogAppendTime');
  });

  test('a topic made with brokerTimestamps is LogAppendTime from the start', LONG, async () => {
    const topic = uniqueName('ts-type');
    await bus.ensureTopic(topic, 1, { brokerTimestamps: true });
    assert.equal(await bus.useBrokerTimestamps!(topic), 'LogAppendTime');
  });
});

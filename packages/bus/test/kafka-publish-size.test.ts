import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, testKafkaBrokers, uniqueName } from '@vault/testkit';
import { type Bus, createKafkaBus, type OutgoingMessage } from '../src/index.ts';

const LONG = { timeout: 120_000 };
const KIB = 'x'.repeat(1024);

/** `count` messages of about 1 KiB each, `key(i)` as key, numbered in publish order. */
function messages(count: number, key: (i: number) => string, headers?: Record<string, string>): OutgoingMessage[] {
  return Array.from({ length: count }, (_, i) => ({ key: key(i), value: `${key(i)}|${i}|${KIB}`, ...(headers ? { headers } : {}) }));
}

// The broker refuses a partition's record batch over message.max.bytes (1 MiB by default):
// one kafkajs send of more than that for one partition failed with MESSAGE_TOO_LARGE.
describe('Kafka: one publish larger than the broker takes in one record batch', () => {
  let bus: Bus;
  before(async () => {
    bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: 'publish-size' });
  });
  after(() => bus.close());

  /** Publishes `sent` in one call, then reads the topic back: each key's numbers, in the order read. */
  async function publishAndReadBack(partitions: number, sent: OutgoingMessage[]): Promise<Map<string, number[]>> {
    const topic = uniqueName('size');
    await bus.ensureTopic(topic, partitions);
    await bus.publish(topic, sent);
    const read = new Map<string, number[]>();
    let count = 0;
    const consumer = await bus.consume({
      topic,
      groupId: uniqueName('g'),
      eachBatch: async (batch) => {
        for (const m of batch.messages) {
          const [key, n] = m.value.toString().split('|');
          assert.equal(m.key, key);
          assert.deepEqual(m.headers ?? {}, sent[0]!.headers ?? {});
          read.set(key!, [...(read.get(key!) ?? []), Number(n)]);
          count++;
        }
      },
    });
    try {
      await eventually(
        () => `${sent.length} messages, read ${count}`,
        () => count >= sent.length,
        60_000,
      );
      assert.equal(count, sent.length, 'every message once');
    } finally {
      await consumer.stop();
    }
    return read;
  }

  test('3 MiB of one key (lines without a subject, all keyed ""): read back whole and in publish order', LONG, async () => {
    const sent = messages(3 * 1024, () => '');
    const read = await publishAndReadBack(3, sent);
    assert.deepEqual([...read.keys()], ['']);
    assert.deepEqual(
      read.get(''),
      sent.map((_, i) => i),
    );
  });

  test('4 MiB of 40 keys with headers on 2 partitions: each key read back whole and in publish order', LONG, async () => {
    const sent = messages(4 * 1024, (i) => `subject-${i % 40}`, { 'content-type': 'application/cloudevents+json' });
    const read = await publishAndReadBack(2, sent);
    assert.equal(read.size, 40);
    for (const [key, ns] of read) {
      assert.deepEqual(
        ns,
        sent.flatMap((m, i) => (m.key === key ? [i] : [])),
        `order of ${key}`,
      );
    }
  });

  test('a message too large for any batch is refused before anything is sent, naming its size and the limit', async () => {
    const topic = uniqueName('size');
    await bus.ensureTopic(topic, 1);
    const big = { key: 'k', value: 'y'.repeat(950 * 1024) };
    await assert.rejects(
      bus.publish(topic, [{ key: 'k', value: 'small' }, big]),
      /^Error: message 1 \(key "k"\) is 972865 bytes, over the 921600 bytes Kafka is sent at once$/,
    );
    assert.deepEqual(await bus.bounds(topic), [{ partition: 0, start: '0', end: '0' }], 'nothing published');
  });
});

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { eventually, testKafkaBrokers, uniqueName } from '@vault/testkit';
import { type Bus, createKafkaBus } from '../src/index.ts';
import { firstPartitions } from '../src/kafka-partitions.ts';

const LONG = { timeout: 120_000 };

/** A key kafkajs's default partitioner sends to `partition` of a topic of `count` partitions. */
function keyFor(topic: string, partition: number, count: number): string {
  const pick = firstPartitions(topic, count);
  for (let i = 0; ; i++) if (pick({ key: `k${i}`, value: '' }) === partition) return `k${i}`;
}

// The broker hands a record batch larger than the fetch's per-partition size (512 KiB,
// kafka-consumer.ts) only to the first partition of a fetch that has messages; a later one gets
// an empty set. Metering's own sends make batches up to 900 KiB (kafka-chunks.ts), an external
// producer's up to the broker's message.max.bytes. Such a batch is not held back while the other
// partitions keep receiving: kafkajs shuffles the partitions of every fetch (KIP-74), so its
// partition comes first within a few fetches. Each partition takes a turn at holding it.
describe('Kafka: a record batch larger than the 512 KiB fetched a partition, while the other partition keeps receiving', () => {
  // The trickle's publishers are buses of their own: a producer sends one request at a time, so a
  // trickle through the large publish's producer would pause while it is sent.
  let bus: Bus;
  let tricklers: Bus[];
  before(async () => {
    bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: 'fetch-size' });
    tricklers = await Promise.all(
      [1, 2, 3].map((i) => createKafkaBus({ brokers: testKafkaBrokers(), clientId: `fetch-size-trickle-${i}` })),
    );
  });
  after(async () => {
    for (const t of tricklers) await t.close();
    await bus.close();
  });

  test('the large batch is read while the trickle to the other partition goes on, whichever partition it is in', LONG, async () => {
    const topic = uniqueName('fetch');
    await bus.ensureTopic(topic, 2);
    const keys = [keyFor(topic, 0, 2), keyFor(topic, 1, 2)];
    // Messages read: of the trickle, per partition; of each large publish, by the partition it went to.
    const read = [0, 0];
    const large = [0, 0];
    const consumer = await bus.consume({
      topic,
      groupId: uniqueName('g'),
      eachBatch: async (batch) => {
        for (const m of batch.messages) {
          if (m.value.toString().startsWith('large|')) large[batch.partition]!++;
          else read[batch.partition]!++;
        }
        // A handler's database work: the other partition gets more meanwhile, so each fetch finds some.
        await sleep(200);
      },
    });
    try {
      for (const [big, small] of [
        [1, 0],
        [0, 1],
      ] as const) {
        // Publishers that never pause: the small partition has messages at every fetch.
        let trickling = true;
        let trickled = 0;
        const trickle = Promise.all(
          tricklers.map(async (trickler) => {
            while (trickling) await trickler.publish(topic, [{ key: keys[small]!, value: `small ${trickled++}` }]);
          }),
        );
        try {
          const atStart = read[small]!;
          await eventually('the trickle read', () => read[small]! >= atStart + 20, 30_000);
          const value = 'x'.repeat(1024);
          await bus.publish(
            topic,
            Array.from({ length: 850 }, (_, i) => ({ key: keys[big]!, value: `large|${i}|${value}` })),
          );
          await eventually(
            () => `partition ${big} read while partition ${small} receives; read ${large[big]} of 850`,
            () => large[big]! >= 850,
            20_000,
          );
          const now = read[small]!;
          await eventually('the trickle still read', () => read[small]! > now, 10_000);
          assert.equal(large[big], 850, 'every message of the large publish once');
        } finally {
          trickling = false;
          await trickle;
        }
      }
    } finally {
      await consumer.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { eventually, testKafkaBrokers, uniqueName } from '@vault/testkit';
import { Kafka, logLevel, type Message, type Producer } from 'kafkajs';
import { type Bus, createKafkaBus, type EmptyRange } from '../src/index.ts';

const LONG = { timeout: 120_000 };

// A transaction's commit or abort marker takes an offset no batch carries. Fetched with its
// messages, the batch's `fetchedTo` reaches past it; fetched alone (its transaction's record batch
// filled the 512 KiB fetched a partition) or after an aborted transaction, kafkajs hands no batch at
// all: `eachEmptyRange` says so, the group's offset moves past it, and the next batch's
// `fetchedFrom` reaches back over it.
describe('Kafka: offsets holding no message at a transaction’s end', () => {
  const open: { bus?: Bus; producer?: Producer } = {};
  after(async () => {
    await open.producer?.disconnect();
    await open.bus?.close();
  });

  test(
    'a marker fetched alone and an aborted transaction are empty ranges from the last message on; a marker fetched with its messages is the batch’s fetchedTo',
    LONG,
    async () => {
      open.bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: uniqueName('txn-ends') });
      const { bus } = open;
      const topic = uniqueName('txn-ends');
      await bus.ensureTopic(topic, 1);
      const kafka = new Kafka({ brokers: testKafkaBrokers(), clientId: uniqueName('txn'), logLevel: logLevel.NOTHING });
      open.producer = kafka.producer({ transactionalId: uniqueName('txn'), idempotent: true, maxInFlightRequests: 1 });
      const producer = open.producer;
      await producer.connect();
      const send = async (messages: Message[], end: 'commit' | 'abort') => {
        const txn = await producer.transaction();
        await txn.send({ topic, acks: -1, messages });
        await (end === 'commit' ? txn.commit() : txn.abort());
      };
      const batches: { first: string; last: string; fetchedFrom?: string; fetchedTo?: string }[] = [];
      const ranges: Pick<EmptyRange, 'from' | 'to'>[] = [];
      const groupId = uniqueName('g');
      const consumer = await bus.consume({
        topic,
        groupId,
        eachBatch: async (b) => {
          const { fetchedFrom, fetchedTo } = b;
          batches.push({
            first: b.messages[0]!.offset,
            last: b.messages[b.messages.length - 1]!.offset,
            ...(fetchedFrom ? { fetchedFrom } : {}),
            ...(fetchedTo ? { fetchedTo } : {}),
          });
        },
        eachEmptyRange: async ({ from, to }) => {
          ranges.push({ from, to });
        },
      });
      const settled = async (what: string, done: () => boolean) => {
        await eventually(
          () => `${what}; batches ${JSON.stringify(batches)}, ranges ${JSON.stringify(ranges)}`,
          async () => done() && (await bus.lag(topic, groupId)) === 0,
          60_000,
        );
      };
      try {
        // 600 KiB in one record batch (offsets 0–599), its marker at 600: fetched apart.
        await send(
          Array.from({ length: 600 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(1_000) })),
          'commit',
        );
        await settled('the large transaction read, its marker an empty range', () => ranges.length === 1);
        assert.deepEqual(batches.at(-1), { first: '500', last: '599', fetchedFrom: '500', fetchedTo: '600' });
        assert.deepEqual(ranges, [{ from: '600', to: '601' }]);

        // Fetched with its messages (601–610, marker 611); its fetch began after the marker alone.
        await send(
          Array.from({ length: 10 }, (_, i) => ({ key: `s${i}`, value: 'small' })),
          'commit',
        );
        await settled('the small transaction read', () => batches.at(-1)?.last === '610');
        assert.deepEqual(batches.at(-1), { first: '601', last: '610', fetchedFrom: '600', fetchedTo: '612' });

        // Aborted (612–616, marker 617): one range from after the last message.
        await send(
          Array.from({ length: 5 }, (_, i) => ({ key: `a${i}`, value: 'aborted' })),
          'abort',
        );
        await settled('the aborted transaction an empty range', () => ranges.length === 2);
        assert.deepEqual(ranges[1], { from: '611', to: '618' });
        assert.equal((await bus.bounds(topic))[0]!.end, '618');
      } finally {
        await consumer.stop();
      }
    },
  );
});

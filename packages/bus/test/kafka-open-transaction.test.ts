import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { eventually, testKafkaBrokers, uniqueName } from '@vault/testkit';
import { Kafka, logLevel, Partitioners, type Producer, type Transaction } from 'kafkajs';
import { type Bus, createKafkaBus } from '../src/index.ts';

const LONG = { timeout: 120_000 };

// A read_committed consumer (the bus's) is handed nothing past an open transaction's first record,
// not even the plain messages acknowledged after it, until the transaction ends. `bounds` ends at
// the high watermark, so those messages (and the open transaction's records) count in `lag` while
// they wait; kafkajs's own listing (read_committed) ends at the last stable offset, before them.
describe('Kafka: bounds and lag while a transaction is open', () => {
  const open: { bus?: Bus; producer?: Producer; txn?: Transaction } = {};
  after(async () => {
    await open.txn?.abort().catch(() => {});
    await open.producer?.disconnect();
    await open.bus?.close();
  });

  test(
    'the end is the high watermark: messages acknowledged behind an open transaction are in the group’s lag until it commits or aborts, then the lag is 0',
    LONG,
    async () => {
      open.bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: uniqueName('open-txn') });
      const { bus } = open;
      const topic = uniqueName('open-txn');
      await bus.ensureTopic(topic, 1);
      const kafka = new Kafka({ brokers: testKafkaBrokers(), clientId: uniqueName('txn'), logLevel: logLevel.NOTHING });
      open.producer = kafka.producer({
        transactionalId: uniqueName('txn'),
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: 120_000,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      const producer = open.producer;
      await producer.connect();
      const message = (tag: string, i: number) => ({ key: `k${i}`, value: `${tag}-${i}` });
      const messages = (tag: string, n: number) => Array.from({ length: n }, (_, i) => message(tag, i));
      const values: string[] = [];
      const groupId = uniqueName('g');
      const consumer = await bus.consume({
        topic,
        groupId,
        eachBatch: async (b) => {
          for (const m of b.messages) values.push(m.value.toString());
        },
      });
      const end = async () => (await bus.bounds(topic))[0]!.end;
      const lagZero = (read: number) =>
        eventually(
          () => `${read} messages read and the group's lag 0; read ${values.length}`,
          async () => values.length >= read && (await bus.lag(topic, groupId)) === 0,
          60_000,
        );
      /** The group's lag is `lag` and stays so while nothing more is read. */
      const waiting = async (read: number, lag: number) => {
        for (let i = 0; i < 8; i++) {
          assert.equal(await bus.lag(topic, groupId), lag, 'the group’s lag while the transaction is open');
          assert.equal(values.length, read, 'nothing read behind the open transaction');
          await sleep(250);
        }
      };

      await bus.publish(topic, messages('plain', 5));
      await lagZero(5);
      assert.equal(await end(), '5');

      // Offsets 5–7 the open transaction's, 8–11 plain messages acknowledged behind it.
      open.txn = await producer.transaction();
      await open.txn.send({ topic, acks: -1, messages: messages('committed', 3) });
      await bus.publish(topic, messages('behind-commit', 4));
      assert.equal(await end(), '12', 'the high watermark, past the messages behind the open transaction');
      await waiting(5, 7);
      await open.txn.commit();
      open.txn = undefined;
      // Its records, the messages behind them, and its marker (offset 12).
      await lagZero(12);
      assert.equal(await end(), '13');

      // Offsets 13–14 a transaction that aborts, 15–16 plain messages behind it, 17 its marker.
      open.txn = await producer.transaction();
      await open.txn.send({ topic, acks: -1, messages: messages('aborted', 2) });
      await bus.publish(topic, messages('behind-abort', 2));
      assert.equal(await end(), '17');
      await waiting(12, 4);
      await open.txn.abort();
      open.txn = undefined;
      await lagZero(14);
      assert.equal(await end(), '18');
      await consumer.stop();

      assert.deepEqual(
        values,
        [...messages('plain', 5), ...messages('committed', 3), ...messages('behind-commit', 4), ...messages('behind-abort', 2)].map(
          (m) => m.value,
        ),
      );
    },
  );
});

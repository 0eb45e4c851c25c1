// A publisher may write the billing topic in Kafka transactions. Each commit or
// abort leaves a marker that takes an offset, and an aborted transaction's
// records take offsets too; a read_committed consumer (kafkajs's default) is
// handed neither. Those offsets are no lost messages: metering must neither log
// them as a hole nor read the partition again to look for them.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createKafkaBus, type Bus } from '@vault/bus';
import type { MeteringStats } from '@vault/contracts';
import { eventually, testKafkaBrokers, uniqueName, type TestDatabase } from '@vault/testkit';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { billingStream, type StreamMessage } from '../bench/stream.ts';
import { meteringDatabase } from './harness.ts';
import { assertExactlyOnce, runMetering } from './log-harness.ts';

const LONG = { timeout: 180_000 };

describe('metering reading a topic written in Kafka transactions (real Kafka broker, real PostgreSQL)', () => {
  const open: { db?: TestDatabase; bus?: Bus; producers: Producer[] } = { producers: [] };
  after(async () => {
    for (const p of open.producers) await p.disconnect();
    await open.bus?.close();
    await open.db?.drop();
  });

  /** An idempotent transactional producer of its own, as a publisher outside The Vault would make one. */
  async function transactional(): Promise<Producer> {
    const kafka = new Kafka({ brokers: testKafkaBrokers(), clientId: uniqueName('txn'), logLevel: logLevel.NOTHING });
    const producer = kafka.producer({
      transactionalId: uniqueName('txn'),
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    open.producers.push(producer);
    return producer;
  }

  test(
    'commit markers and an aborted transaction between batches: no metering.log_hole, no partition read again at a transaction’s end, every committed event applied once and no aborted one',
    LONG,
    async () => {
      open.db = await meteringDatabase();
      open.bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: uniqueName('txn-metering') });
      const { db, bus } = open;
      const topic = uniqueName('billing');
      await bus.ensureTopic(topic, 2);
      const abortedPrefix = uniqueName('aborted');
      const committed = [...billingStream({ events: 800, seed: 23, prefix: uniqueName('committed'), duplicateRate: 0 })];
      const aborted = [...billingStream({ events: 150, seed: 24, prefix: abortedPrefix, duplicateRate: 0 })];
      const [one, two] = [await transactional(), await transactional()];
      const send = async (producer: Producer, messages: StreamMessage[], end: 'commit' | 'abort') => {
        const txn = await producer.transaction();
        await txn.send({ topic, acks: -1, messages });
        await (end === 'commit' ? txn.commit() : txn.abort());
      };

      const group = uniqueName('metering');
      const run = await runMetering(db, bus, topic, group);
      // Every message read, and both metering's consumer_lag and the group's bus offsets past the
      // last commit marker (metering's position is its last message + 1: it learns the markers after
      // it from the fetch, `read_to`).
      let last: MeteringStats | undefined;
      const drained = async (messages: number) => {
        await eventually(
          () => `${messages} messages read, consumer_lag and the group's lag 0; last stats ${JSON.stringify(last)}`,
          async () => {
            last = await run.stats();
            const read = last.events_applied + last.events_duplicate + last.events_rejected >= messages;
            return read && last.consumer_lag === 0 && (await bus.lag(topic, group)) === 0;
          },
          90_000,
        );
        return last!;
      };
      // Each wave drained before the next: the next fetch begins after the wave's commit marker,
      // past metering's position (its last message's offset + 1).
      await send(one, committed.slice(0, 200), 'commit');
      await drained(200);
      // An aborted transaction and a committed one, open together, end together: the aborted
      // records and both markers lie between the first wave and the next batch metering is handed.
      const open1 = await one.transaction();
      await open1.send({ topic, acks: -1, messages: aborted });
      await send(two, committed.slice(200, 400), 'commit');
      await open1.abort();
      await drained(400);
      // Several transactions back to back: markers inside one fetch too.
      for (let i = 400; i < 800; i += 100) await send(i % 200 === 0 ? one : two, committed.slice(i, i + 100), 'commit');
      const final = await drained(800);
      await run.stop();

      assert.deepEqual(
        run.lines.filter((l) => l.includes('event=metering.log_hole')),
        [],
        'no hole logged',
      );
      // The one read again: the first contact's check of the message at the position (the anchor),
      // once a partition. None at a transaction's end.
      const readFrom = run.lines.filter((l) => l.includes('event=metering.read_from')).map((l) => l.match(/ partition=(\d+)/)![1]);
      assert.equal(new Set(readFrom).size, readFrom.length, `one read_from a partition at most: ${readFrom}`);
      await assertExactlyOnce(db, final, committed);
      const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from metering.events where id like $1', [
        `${abortedPrefix}-%`,
      ]);
      assert.equal(rows[0]!.n, 0, 'no aborted event applied');
    },
  );
});

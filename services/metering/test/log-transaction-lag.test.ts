// metering's consumer_lag on a topic written in Kafka transactions. Its stored
// position is the last message applied + 1, and a transaction's commit or abort
// marker takes the offset after it: the log's end (the high watermark) lies past
// the position once everything is applied. A marker fetched with its messages is
// learned from the batch (`Batch.fetchedTo`); one fetched alone (its transaction's
// record batch filled the fetch) or an aborted transaction at the end is a fetch
// kafkajs hands no batch of (`eachEmptyRange`). Either way consumer_lag must reach
// 0, and must still count every message committed meanwhile.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createKafkaBus, type Bus } from '@vault/bus';
import { eventually, testKafkaBrokers, uniqueName, type TestDatabase } from '@vault/testkit';
import { Kafka, logLevel, Partitioners, type Message, type Producer } from 'kafkajs';
import { billingStream, type StreamMessage } from '../bench/stream.ts';
import { consumerLag, readLogEnds } from '../src/consumer/log-report.ts';
import { meteringDatabase } from './harness.ts';
import { assertExactlyOnce, runMetering, type Run } from './log-harness.ts';

const LONG = { timeout: 240_000 };

describe('metering’s consumer_lag on a topic written in Kafka transactions (real Kafka broker, real PostgreSQL)', () => {
  const open: { db?: TestDatabase; bus?: Bus; producers: Producer[]; runs: Run[] } = { producers: [], runs: [] };
  after(async () => {
    for (const r of open.runs) await r.stop().catch(() => {});
    for (const p of open.producers) await p.disconnect();
    await open.bus?.close();
    await open.db?.drop();
  });

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
    'a commit marker fetched apart from its messages, then an aborted transaction alone at the end: consumer_lag 0 once every message is applied; stopped, it counts exactly what is committed meanwhile; restarted, 0 again, every event applied once',
    LONG,
    async () => {
      open.db = await meteringDatabase();
      open.bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: uniqueName('txn-lag') });
      const { db, bus } = open;
      const topic = uniqueName('billing');
      await bus.ensureTopic(topic, 2);
      const group = uniqueName('metering');
      const producer = await transactional();
      const send = async (messages: Message[], end: 'commit' | 'abort') => {
        const txn = await producer.transaction();
        await txn.send({ topic, acks: -1, messages });
        await (end === 'commit' ? txn.commit() : txn.abort());
      };
      const stream = [...billingStream({ events: 3_000, seed: 31, prefix: uniqueName('committed'), duplicateRate: 0 })];
      // Over the 512 KiB the bus fetches a partition, all in partition 0: one record batch the broker
      // hands alone (the first batch of a fetch, whatever its size), so its marker comes in a fetch of its own.
      let bytes = 0;
      const big = stream.filter((m) => (bytes += m.value.length + m.key.length) <= 640 * 1024);
      assert.ok(bytes > 640 * 1024, 'the stream is larger than the record batch');
      const later = stream.slice(big.length, big.length + 400);
      const abortedPrefix = uniqueName('aborted');
      const aborted = [...billingStream({ events: 100, seed: 32, prefix: abortedPrefix, duplicateRate: 0 })];
      const ends = async () => (await bus.bounds(topic)).map((b) => BigInt(b.end));
      // The log's end is Kafka's last stable offset (kafkajs lists offsets read_committed): it passes
      // a transaction once its markers are written, a moment after commit() or abort() returns.
      const grownFrom = async (before: bigint[], atLeast: (now: bigint[]) => boolean) => {
        let now = before;
        await eventually('the transaction’s end at the log’s end', async () => atLeast((now = await ends())), 30_000);
        return now;
      };
      const groupLagZero = () => eventually('the group’s lag 0', async () => (await bus.lag(topic, group)) === 0, 60_000);

      const first = await runMetering(db, bus, topic, group);
      open.runs.push(first);
      await send(
        big.map((m) => ({ ...m, partition: 0 })),
        'commit',
      );
      // consumer_lag 0: every message applied and the marker after them learned.
      await first.drained(big.length);
      await groupLagZero();

      // An aborted transaction alone, over both partitions: records and a marker, no message to
      // apply; partition 1 holds nothing else, so metering has no position there before it.
      const beforeAbort = await ends();
      assert.equal(beforeAbort[1], 0n, 'partition 1 empty so far');
      await send(aborted, 'abort');
      // The aborted transaction takes offsets in both partitions.
      await grownFrom(beforeAbort, (now) => now.every((e, i) => e > beforeAbort[i]!));
      await first.drained(big.length);
      await groupLagZero();
      await first.stop();
      open.runs.splice(open.runs.indexOf(first), 1);

      // Stopped: what PostgreSQL holds says drained, and every message committed now counts.
      const stored = await readLogEnds(bus, topic);
      assert.equal(await consumerLag(db.pool, topic, stored), 0, 'drained, as stored');
      await send(later, 'commit');
      const sum = (e: bigint[]) => e.reduce((a, b) => a + b, 0n);
      const beforeLater = stored.bounds.map((b) => BigInt(b.end));
      await grownFrom(beforeLater, (now) => sum(now) - sum(beforeLater) > BigInt(later.length));
      // Read together: every offset written since is counted, the messages and a marker a partition.
      const snapshot = await readLogEnds(bus, topic);
      const grown = sum(snapshot.bounds.map((b) => BigInt(b.end))) - sum(beforeLater);
      assert.equal(BigInt(await consumerLag(db.pool, topic, snapshot)), grown, 'consumer_lag counts every offset written since');
      assert.ok(grown > BigInt(later.length) && grown <= BigInt(later.length + 2), `${grown}: ${later.length} messages and their markers`);

      const second = await runMetering(db, bus, topic, group);
      open.runs.push(second);
      const final = await second.drained(big.length + later.length);
      await groupLagZero();
      await second.stop();
      open.runs.splice(open.runs.indexOf(second), 1);

      const lines = [...first.lines, ...second.lines];
      assert.deepEqual(
        lines.filter((l) => l.includes('event=metering.log_hole')),
        [],
        'no hole logged',
      );
      await assertExactlyOnce(db, final, [...big, ...later] satisfies StreamMessage[]);
      const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from metering.events where id like $1', [
        `${abortedPrefix}-%`,
      ]);
      assert.equal(rows[0]!.n, 0, 'no aborted event applied');
    },
  );
});

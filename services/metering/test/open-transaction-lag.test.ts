// metering's consumer_lag while a Kafka transaction is open. A read_committed consumer
// (kafkajs's default) is handed nothing past an open transaction's first record (the
// last stable offset), not even plain messages the broker acknowledged after it: they
// wait until the transaction commits or aborts (or times out, up to 15 min). Lag 0 is
// read as "everything accepted is applied" (the demo's waitForMetering, operators), so
// those messages must count while they wait; once the transaction ends and metering has
// read past it, consumer_lag is 0 again, its markers and aborted records counted for nothing.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { createKafkaBus, type Bus } from '@vault/bus';
import type { MeteringStats } from '@vault/contracts';
import { eventually, testKafkaBrokers, uniqueName, type TestDatabase } from '@vault/testkit';
import { Kafka, logLevel, Partitioners, type Producer, type Transaction } from 'kafkajs';
import { billingStream, type StreamMessage } from '../bench/stream.ts';
import { meteringDatabase } from './harness.ts';
import { assertExactlyOnce, runMetering, type Run } from './log-harness.ts';

const LONG = { timeout: 240_000 };

describe('metering’s consumer_lag while a Kafka transaction is open (real Kafka broker, real PostgreSQL)', () => {
  const open: { db?: TestDatabase; bus?: Bus; producer?: Producer; txn?: Transaction; run?: Run } = {};
  after(async () => {
    await open.run?.stop().catch(() => {});
    await open.txn?.abort().catch(() => {});
    await open.producer?.disconnect();
    await open.bus?.close();
    await open.db?.drop();
  });

  test(
    'plain messages acknowledged behind an open transaction count, with its records, until it ends; after its commit, and after an abort, consumer_lag is 0 and every committed event is applied once',
    LONG,
    async () => {
      open.db = await meteringDatabase();
      open.bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: uniqueName('open-txn') });
      const { db, bus } = open;
      const topic = uniqueName('billing');
      // One partition: the transaction's records and the plain messages after it share it.
      await bus.ensureTopic(topic, 1);
      const kafka = new Kafka({ brokers: testKafkaBrokers(), clientId: uniqueName('txn'), logLevel: logLevel.NOTHING });
      const producer = kafka.producer({
        transactionalId: uniqueName('txn'),
        idempotent: true,
        maxInFlightRequests: 1,
        // Long enough that the broker does not abort it while the test holds it open.
        transactionTimeout: 180_000,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      open.producer = producer;
      const stream = (events: number, seed: number, prefix = uniqueName('e')) => [
        ...billingStream({ events, seed, prefix, duplicateRate: 0 }),
      ];
      const first = stream(200, 41);
      const inCommitted = stream(100, 42);
      const behindCommitted = stream(150, 43);
      const abortedPrefix = uniqueName('aborted');
      const inAborted = stream(80, 44, abortedPrefix);
      const behindAborted = stream(120, 45);
      const begin = async (messages: StreamMessage[]) => {
        const txn = await producer.transaction();
        open.txn = txn;
        await txn.send({ topic, acks: -1, messages });
        return txn;
      };
      const end = async (txn: Transaction, how: 'commit' | 'abort') => {
        await (how === 'commit' ? txn.commit() : txn.abort());
        open.txn = undefined;
      };

      open.run = await runMetering(db, bus, topic, uniqueName('metering'));
      const run = open.run;
      await bus.publish(topic, first);
      await run.drained(first.length);

      // Metering is at the open transaction's first record; what it cannot read yet must count.
      const waiting = async (applied: number, lag: number) => {
        let last: MeteringStats | undefined;
        await eventually(
          () => `consumer_lag ${lag} (the open transaction's records and the messages behind it); last stats ${JSON.stringify(last)}`,
          async () => (last = await run.stats()).consumer_lag === lag,
          20_000,
        );
        // And stays so: metering is handed none of them while the transaction is open.
        for (let i = 0; i < 8; i++) {
          await sleep(250);
          last = await run.stats();
          assert.equal(last.consumer_lag, lag, 'consumer_lag while the transaction is open');
          assert.equal(last.events_applied, applied, 'nothing behind the open transaction applied');
        }
      };

      const committing = await begin(inCommitted);
      await bus.publish(topic, behindCommitted);
      await waiting(first.length, inCommitted.length + behindCommitted.length);
      await end(committing, 'commit');
      // Its records, the messages behind them and its commit marker read: 0 again.
      const afterCommit = first.length + inCommitted.length + behindCommitted.length;
      await run.drained(afterCommit);

      const aborting = await begin(inAborted);
      await bus.publish(topic, behindAborted);
      await waiting(afterCommit, inAborted.length + behindAborted.length);
      await end(aborting, 'abort');
      // The aborted records and the abort marker hold no message: they do not keep the lag above 0.
      const final = await run.drained(afterCommit + behindAborted.length);

      assert.deepEqual(
        run.lines.filter((l) => l.includes('event=metering.log_hole')),
        [],
        'no hole logged',
      );
      await assertExactlyOnce(db, final, [...first, ...inCommitted, ...behindCommitted, ...behindAborted]);
      const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from metering.events where id like $1', [
        `${abortedPrefix}-%`,
      ]);
      assert.equal(rows[0]!.n, 0, 'no aborted event applied');
    },
  );
});

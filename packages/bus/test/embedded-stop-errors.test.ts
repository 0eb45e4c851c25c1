// A stop we asked for is not an error. A terminal's Ctrl-C reaches the embedded PostgreSQL
// with the app (one process group): the server ends the consumer's session, or the handler's
// (metering's batch, logged `batch.interrupted`), often before the app's own SIGINT handler has
// run. The consumer logged that as `bus.consumer_error` at warn; now, with `stopping` true (or
// turning true within a moment), it is `bus.consumer_interrupted` at info. A failure with no stop
// on its way stays `bus.consumer_error`.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { eventually, uniqueName } from '@vault/testkit';
import { busEventLevel } from '../src/index.ts';
import { busTest, type BusUnderTest, type LogLine } from './embedded-fixture.ts';

const events = (lines: LogLine[]) => lines.map((l) => l.event).filter((e) => e.startsWith('bus.consumer_'));
const show = (lines: LogLine[]) => lines.map((l) => `${l.event} ${JSON.stringify(l.fields)}`).join('\n');

/** A one-partition topic holding one message. */
async function topicWithAMessage({ bus }: BusUnderTest): Promise<string> {
  const topic = uniqueName('stop');
  await bus.ensureTopic(topic, 1);
  await bus.publish(topic, [{ key: 'k', value: 'm-0' }]);
  return topic;
}

describe('embedded consumer: an error on the way down is the stop, not a failure (real PostgreSQL)', () => {
  busTest(
    'the handler fails once the app is stopping (its batch cut short): bus.consumer_interrupted at info, no bus.consumer_error',
    'busstop',
    async (t) => {
      const topic = await topicWithAMessage(t);
      let stopping = false;
      let calls = 0;
      const consumer = await t.bus.consume({
        topic,
        groupId: uniqueName('g'),
        stopping: () => stopping,
        eachBatch: async () => {
          calls++;
          // As metering's batch meets PostgreSQL stopped by the same Ctrl-C.
          stopping = true;
          throw new Error('Client has encountered a connection error and is not queryable');
        },
      });
      t.consumers.push(consumer);
      await eventually('the failure to be logged', () => events(t.lines).length > 0, 10_000);
      await consumer.stop();
      assert.ok(calls >= 1);
      assert.deepEqual([...new Set(events(t.lines))], ['bus.consumer_interrupted'], show(t.lines));
      const line = t.lines.find((l) => l.event === 'bus.consumer_interrupted')!;
      assert.equal(busEventLevel(line.event), 'info');
      assert.equal(line.fields.error, 'Client has encountered a connection error and is not queryable');
      assert.equal(line.fields.reason, 'the app is stopping');
    },
  );

  busTest(
    'the server ends the consumer’s session and the stop signal comes a moment later (Ctrl-C reached PostgreSQL first): bus.consumer_interrupted, no bus.consumer_error',
    'busstop',
    async (t) => {
      const topic = await topicWithAMessage(t);
      let stopping = false;
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let handed = false;
      const consumer = await t.bus.consume({
        topic,
        groupId: uniqueName('g'),
        stopping: () => stopping,
        eachBatch: async () => {
          handed = true;
          await held;
        },
      });
      t.consumers.push(consumer);
      await eventually('the batch to be in hand', () => handed, 10_000);
      // PostgreSQL stopping: the member's session ends (its commit after the batch fails at once).
      const { rows } = await t.db.pool.query<{ ended: boolean }>(
        `select pg_terminate_backend(pid, 5000) as ended from pg_stat_activity
          where datname = current_database() and application_name like 'vbus:%'`,
      );
      assert.deepEqual(
        rows.map((r) => r.ended),
        [true],
      );
      release();
      // Our own SIGINT handler runs a moment after the server has gone.
      setTimeout(() => {
        stopping = true;
      }, 100);
      await eventually('the failure to be logged', () => events(t.lines).length > 0, 10_000);
      await consumer.stop();
      assert.deepEqual([...new Set(events(t.lines))], ['bus.consumer_interrupted'], show(t.lines));
    },
  );

  busTest('a failure with no stop on its way is still bus.consumer_error at warn, and the batch comes again', 'busstop', async (t) => {
    const topic = await topicWithAMessage(t);
    let calls = 0;
    const consumer = await t.bus.consume({
      topic,
      groupId: uniqueName('g'),
      stopping: () => false,
      eachBatch: async () => {
        calls++;
        if (calls === 1) throw new Error('deadlock detected');
      },
    });
    t.consumers.push(consumer);
    await eventually('the batch handed again after the failure', () => calls >= 2, 10_000);
    assert.deepEqual(events(t.lines), ['bus.consumer_error'], show(t.lines));
    assert.equal(busEventLevel('bus.consumer_error'), 'warn');
    assert.equal(t.lines.find((l) => l.event === 'bus.consumer_error')!.fields.error, 'deadlock detected');
  });
});

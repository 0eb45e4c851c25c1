// A stop we asked for is not an error, on Kafka too. A terminal's Ctrl-C reaches the embedded
// PostgreSQL with the app: metering's batch fails against it (logged `batch.interrupted`), often
// before the app's own SIGINT handler has run, and the Kafka consumer logged that failure as
// `bus.batch_failed` at warn. Now, with `stopping` true (or turning true within a moment), it is
// `bus.consumer_interrupted` at info; a failure with no stop on its way stays `bus.batch_failed`.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { eventually, testKafkaBrokers, uniqueName } from '@vault/testkit';
import { type Bus, busEventLevel, type Consumer, createKafkaBus } from '../src/index.ts';

const LONG = { timeout: 120_000 };

describe('Kafka consumer: a batch failing on the way down is the stop, not a failure (real Kafka)', () => {
  const logged: { event: string; fields: Record<string, string | number> }[] = [];
  const open: { bus?: Bus; consumers: Consumer[] } = { consumers: [] };
  after(async () => {
    for (const c of open.consumers) await c.stop();
    await open.bus?.close();
  });
  const busEvents = () => logged.map((l) => l.event).filter((e) => e === 'bus.batch_failed' || e === 'bus.consumer_interrupted');
  const show = () => logged.map((l) => `${l.event} ${JSON.stringify(l.fields)}`).join('\n');

  async function failingConsumer(stopWhen: 'in the handler' | 'a moment later' | 'never'): Promise<void> {
    open.bus ??= await createKafkaBus({
      brokers: testKafkaBrokers(),
      clientId: uniqueName('stop-errors'),
      log: (event, fields) => logged.push({ event, fields: fields ?? {} }),
    });
    const topic = uniqueName('stop');
    await open.bus.ensureTopic(topic, 1);
    await open.bus.publish(topic, [{ key: 'k', value: 'm-0' }]);
    let stopping = false;
    const consumer = await open.bus.consume({
      topic,
      groupId: uniqueName('g'),
      stopping: () => stopping,
      eachBatch: async () => {
        // As metering's batch meets PostgreSQL stopped by the same Ctrl-C.
        if (stopWhen === 'in the handler') stopping = true;
        if (stopWhen === 'a moment later') setTimeout(() => (stopping = true), 50);
        throw new Error('Client has encountered a connection error and is not queryable');
      },
    });
    open.consumers.push(consumer);
    await eventually('the failure to be logged', () => busEvents().length > 0, 60_000);
    await consumer.stop();
  }

  test('the handler fails once the app is stopping: bus.consumer_interrupted at info, no bus.batch_failed', LONG, async () => {
    logged.length = 0;
    await failingConsumer('in the handler');
    assert.deepEqual([...new Set(busEvents())], ['bus.consumer_interrupted'], show());
    const line = logged.find((l) => l.event === 'bus.consumer_interrupted')!;
    assert.equal(busEventLevel(line.event), 'info');
    assert.equal(line.fields.error, 'Client has encountered a connection error and is not queryable');
    assert.equal(line.fields.reason, 'the app is stopping');
    assert.equal(line.fields.offset, '0');
  });

  test(
    'the stop signal comes a moment after the failure (Ctrl-C reached PostgreSQL first): still bus.consumer_interrupted',
    LONG,
    async () => {
      logged.length = 0;
      await failingConsumer('a moment later');
      assert.deepEqual([...new Set(busEvents())], ['bus.consumer_interrupted'], show());
    },
  );

  test('a failure with no stop on its way stays bus.batch_failed at warn', LONG, async () => {
    logged.length = 0;
    await failingConsumer('never');
    const first = busEvents()[0];
    assert.equal(first, 'bus.batch_failed', show());
    assert.equal(busEventLevel(first), 'warn');
  });
});

// A failed batch comes again before anything after it: the partition is sought back to its first
// message at once. The consumer once waited 250 ms (a stop signal's grace, to tell a Ctrl-C from a
// failure) before seeking: a message produced meanwhile was fetched, handled and committed first
// (offsets handled 0, 1, then 0+1), breaking the bus's order within a partition.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { eventually, testKafkaBrokers, uniqueName } from '@vault/testkit';
import { type Bus, type Consumer, createKafkaBus } from '../src/index.ts';

describe('Kafka consumer: the order within a partition after a failed batch', () => {
  const open: { bus?: Bus; consumers: Consumer[] } = { consumers: [] };
  after(async () => {
    for (const c of open.consumers) await c.stop();
    await open.bus?.close();
  });

  test('a message produced while the failure is being logged is handled only after the failed batch comes again', {
    timeout: 120_000,
  }, async () => {
    const bus = (open.bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: uniqueName('order') }));
    const topic = uniqueName('order');
    await bus.ensureTopic(topic, 1);
    await bus.publish(topic, [{ key: 'k', value: 'm-0' }]);
    const handled: string[][] = [];
    let failed = false;
    const consumer = await bus.consume({
      topic,
      groupId: uniqueName('g'),
      eachBatch: async (batch) => {
        handled.push(batch.messages.map((m) => m.offset));
        if (failed) return;
        failed = true;
        // Live traffic: the next message arrives within the stop signal's grace.
        setTimeout(() => void bus.publish(topic, [{ key: 'k', value: 'm-1' }]), 30);
        throw new Error('database blip');
      },
    });
    open.consumers.push(consumer);
    await eventually(
      () => `offset 1 handled; so far ${JSON.stringify(handled)}`,
      () => handled.some((b) => b.includes('1')),
      60_000,
    );
    const firstWithOne = handled.findIndex((b) => b.includes('1'));
    const zeroAgain = handled.findIndex((b, i) => i > 0 && b.includes('0'));
    assert.ok(
      zeroAgain !== -1 && zeroAgain <= firstWithOne,
      `offset 1 was handled before the failed offset 0 came again: ${JSON.stringify(handled)}`,
    );
  });
});

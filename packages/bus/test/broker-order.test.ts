// The log's identity is read from one broker at a time, every few seconds. A
// first-listed broker that is down and silent costs its whole socket timeout;
// it must cost it once, not at every read (metering's batches wait on it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstAnswering } from '../src/kafka-bus.ts';

test('the broker that answered last is asked first; a silent one is not asked again while another answers; the last error when none does', async () => {
  const asked: string[] = [];
  let down = new Set(['a:9092']);
  const ask = async (broker: string) => {
    asked.push(broker);
    if (down.has(broker)) throw new Error(`${broker} timed out`);
    return `id from ${broker}`;
  };
  const askBrokers = firstAnswering(['a:9092', 'b:9092', 'c:9092']);
  assert.equal(await askBrokers(ask), 'id from b:9092');
  assert.equal(await askBrokers(ask), 'id from b:9092');
  assert.equal(await askBrokers(ask), 'id from b:9092');
  assert.deepEqual(asked, ['a:9092', 'b:9092', 'b:9092', 'b:9092']);
  // b goes down: the others are asked in their listed order, and c is first from then on.
  down = new Set(['a:9092', 'b:9092']);
  asked.length = 0;
  assert.equal(await askBrokers(ask), 'id from c:9092');
  assert.equal(await askBrokers(ask), 'id from c:9092');
  assert.deepEqual(asked, ['b:9092', 'a:9092', 'c:9092', 'c:9092']);
  down = new Set(['a:9092', 'b:9092', 'c:9092']);
  await assert.rejects(askBrokers(ask), { message: 'b:9092 timed out' }, "asked c, a, b: the last error is b's");
});

// The retry policy describeLog uses while Kafka does not host a topic yet.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { whileRetriable } from '../src/retriable.ts';

const notHostedYet = () => Object.assign(new Error('This server does not host this topic-partition'), { retriable: true });

describe('whileRetriable', () => {
  test('asks again after retriable errors until it answers', async () => {
    let tries = 0;
    const answer = await whileRetriable(async () => {
      tries += 1;
      if (tries < 3) throw notHostedYet();
      return 'hosted';
    }, 5_000);
    assert.deepEqual([answer, tries], ['hosted', 3]);
  });

  test('any other error is thrown at once', async () => {
    let tries = 0;
    await assert.rejects(
      whileRetriable(async () => {
        tries += 1;
        throw new Error('authorization failed');
      }, 5_000),
      /authorization failed/,
    );
    assert.equal(tries, 1);
  });

  test('a retriable error past the deadline is thrown', async () => {
    const started = Date.now();
    await assert.rejects(
      whileRetriable(async () => {
        throw notHostedYet();
      }, 700),
      /does not host this topic-partition/,
    );
    assert.ok(Date.now() - started < 1_500, 'gave up by its deadline');
  });
});

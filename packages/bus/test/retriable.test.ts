// The retry policy describeLog uses while Kafka does not host a topic yet, and which failed publish means a vanished topic.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { listOffsetsError } from '../src/kafka-offsets.ts';
import { isTopicUnknown, whileRetriable } from '../src/retriable.ts';

const { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

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

// A failed publish looks for a vanished topic (a second retry schedule) only on this answer:
// with the broker down, every publish would otherwise wait that long again before rejecting.
describe('isTopicUnknown, on the errors kafkajs throws', () => {
  const unknownTopic = () =>
    new KafkaJSProtocolError({
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
      code: 3,
      retriable: true,
      message: 'This server does not host this topic-partition',
    } as never);

  test('Kafka answering UNKNOWN_TOPIC_OR_PARTITION, as thrown or as the end of the retries', () => {
    assert.equal(isTopicUnknown(unknownTopic()), true);
    assert.equal(isTopicUnknown(new KafkaJSNumberOfRetriesExceeded(unknownTopic(), { retryCount: 5, retryTime: 100 })), true);
  });

  test('a broker that is down, or any other answer, is not a vanished topic', () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', { broker: '127.0.0.1:9092' });
    assert.equal(isTopicUnknown(refused), false);
    assert.equal(isTopicUnknown(new KafkaJSNumberOfRetriesExceeded(refused, { retryCount: 5, retryTime: 100 })), false);
    assert.equal(isTopicUnknown(new KafkaJSNonRetriableError('Closed connection')), false);
    assert.equal(isTopicUnknown(new Error('UNKNOWN_TOPIC_OR_PARTITION')), false);
    assert.equal(isTopicUnknown(undefined), false);
  });
});

describe('ListOffsets errors (kafka-offsets.ts)', () => {
  test('a just-elected leader’s OFFSET_NOT_AVAILABLE (78), and the other errors kafkajs retries, are asked again; each is named', async () => {
    for (const [code, name] of [
      [78, 'OFFSET_NOT_AVAILABLE'],
      [6, 'NOT_LEADER_OR_FOLLOWER'],
      [56, 'KAFKA_STORAGE_ERROR'],
      [7, 'REQUEST_TIMED_OUT'],
    ] as const) {
      let tries = 0;
      const answer = await whileRetriable(async () => {
        tries += 1;
        if (tries < 2) throw listOffsetsError('billing-events', 3, code);
        return 'bounds';
      }, 5_000);
      assert.deepEqual([answer, tries], ['bounds', 2], name);
      assert.equal(
        listOffsetsError('billing-events', 3, code).message,
        `ListOffsets for billing-events partition 3 answered error ${code} ${name}`,
      );
    }
  });

  test('an error asking again cannot cure (29 TOPIC_AUTHORIZATION_FAILED) is thrown at once, its code given', async () => {
    let tries = 0;
    await assert.rejects(
      whileRetriable(async () => {
        tries += 1;
        throw listOffsetsError('billing-events', 0, 29);
      }, 5_000),
      /^Error: ListOffsets for billing-events partition 0 answered error 29$/,
    );
    assert.equal(tries, 1);
  });
});

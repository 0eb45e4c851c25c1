import assert from 'node:assert/strict';
import { eventually } from './index.ts';

/** What recreateTopic needs of a Kafka admin client (kafkajs's fits). */
export interface TopicAdmin {
  deleteTopics(options: { topics: string[] }): Promise<void>;
  listTopics(): Promise<string[]>;
  createTopics(options: { topics: { topic: string; numPartitions: number }[]; waitForLeaders: boolean }): Promise<boolean>;
}

/**
 * Deletes `topic` and creates it again with `partitions`, on the real broker: a
 * new log under the same name. `describe` is the bus's describeLog; the ids of
 * the log before and after are returned, known to differ.
 */
export async function recreateTopic(
  admin: TopicAdmin,
  topic: string,
  partitions: number,
  describe: () => Promise<{ id: string; partitions: number }>,
): Promise<{ before: string; now: string }> {
  const before = await describe();
  await admin.deleteTopics({ topics: [topic] });
  await eventually('the topic gone', async () => !(await admin.listTopics()).includes(topic));
  // The broker may answer for a moment that it does not host a topic just created again.
  await eventually('the topic created again', async () => {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true }).catch(() => {});
    return (await describe().catch(() => undefined))?.partitions === partitions;
  });
  const now = await describe();
  assert.notEqual(now.id, before.id);
  return { before: before.id, now: now.id };
}

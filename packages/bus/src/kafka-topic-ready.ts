// Waiting, after a topic was created, until Kafka serves it. kafkajs's own wait
// (createTopics' waitForLeaders) gives up at once when the broker answers that it
// does not host the topic yet (UNKNOWN_TOPIC_OR_PARTITION), which a KRaft broker
// does until it has applied the controller's record. kafkajs asks first 100 ms
// after the create, enough on an idle broker, not on a busy one: the create then
// failed though the topic was made.
import type { Admin } from 'kafkajs';
import { whileRetriable } from './retriable.ts';

/** A partition without a leader yet: retriable, as Kafka's LEADER_NOT_AVAILABLE. */
class TopicNotReadyError extends Error {
  readonly retriable = true;
}

/**
 * Resolves once the broker's metadata shows `topic` with a leader for each of its
 * partitions (all of them come at once: one record batch); asks again while it does
 * not (200 ms, doubling to 2 s), for at most `withinMs`, then throws the last answer's
 * error. The count is not checked: a topic another client made first keeps its own.
 */
export async function waitUntilServed(admin: Admin, topic: string, withinMs: number): Promise<void> {
  await whileRetriable(async () => {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const found = metadata.topics.find((t) => t.name === topic)?.partitions ?? [];
    const led = found.filter((p) => p.leader >= 0).length;
    if (found.length === 0 || led < found.length) {
      throw new TopicNotReadyError(`topic ${topic}: ${led} of ${found.length} partitions have a leader on Kafka`);
    }
  }, withinMs);
}

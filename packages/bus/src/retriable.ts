// Kafka answers for a moment after a topic is created (or its leader moves)
// that it does not host the topic-partition, an error it marks retriable:
// asked again, it answers. kafkajs's admin gives some of these up at once.
import { setTimeout as sleep } from 'node:timers/promises';

/** An error that says asking again may succeed (kafkajs's `retriable`, or ours for the same Kafka codes). */
export const isRetriable = (err: unknown): boolean => (err as { retriable?: unknown } | null)?.retriable === true;

/** kafkajs's UNKNOWN_TOPIC_OR_PARTITION, as thrown or as the cause of its retries' end. */
export function isTopicUnknown(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    if ((e as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Runs `what` until it answers, again after each retriable error (200 ms,
 * doubling to 2 s between tries), for at most `withinMs`; any other error, or
 * a retriable one past the deadline, is thrown.
 */
export async function whileRetriable<T>(what: () => Promise<T>, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let wait = 200; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      return await what();
    } catch (err) {
      if (!isRetriable(err) || Date.now() + wait > deadline) throw err;
      await sleep(wait);
    }
  }
}

import { Partitioners } from 'kafkajs';
import type { OutgoingMessage } from './bus.ts';

/**
 * The partition kafkajs's default partitioner (the Java client's murmur2, keyed) picks for a
 * message when `topic` has `count` partitions: the first `count` of the topic's, whatever it has now.
 */
export function firstPartitions(topic: string, count: number): (m: Pick<OutgoingMessage, 'key' | 'value'>) => number {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`partitions must be a positive integer, got ${count}`);
  const pick = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
  return (m) => pick({ topic, partitionMetadata, message: { key: m.key, value: m.value } });
}

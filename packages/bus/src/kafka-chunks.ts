import type { OutgoingMessage } from './bus.ts';

/**
 * What one kafkajs `send` may carry. The broker refuses a partition's record
 * batch over `message.max.bytes` (default 1048588, what our topics inherit)
 * with MESSAGE_TOO_LARGE, which kafkajs does not retry. Bounding the whole
 * send, not each partition, needs no partition count (partitions can be
 * added) and still bounds every batch; compression only makes it smaller.
 */
export const SEND_BUDGET_BYTES = 900 * 1024;

/** A record's bytes in a v2 batch, upper bound: the varints (length, deltas, sizes) are under 64, each header's under 16. */
export function recordBytes(m: OutgoingMessage): number {
  let size = 64 + Buffer.byteLength(m.key) + Buffer.byteLength(m.value);
  for (const [name, value] of Object.entries(m.headers ?? {})) size += 16 + Buffer.byteLength(name) + Buffer.byteLength(value);
  return size;
}

/** A batch header is 61 bytes. */
const BATCH_HEADER_BYTES = 61;

/**
 * `messages` cut, in order, into runs each under `budget`. Throws, before any
 * is sent, when one message alone is over it: no send could carry it.
 */
export function chunksForKafka(messages: OutgoingMessage[], budget = SEND_BUDGET_BYTES): OutgoingMessage[][] {
  const chunks: OutgoingMessage[][] = [];
  let chunk: OutgoingMessage[] = [];
  let size = BATCH_HEADER_BYTES;
  for (const [i, m] of messages.entries()) {
    const bytes = recordBytes(m);
    if (BATCH_HEADER_BYTES + bytes > budget) {
      throw new Error(`message ${i} (key ${JSON.stringify(m.key)}) is ${bytes} bytes, over the ${budget} bytes Kafka is sent at once`);
    }
    if (size + bytes > budget) {
      chunks.push(chunk);
      chunk = [];
      size = BATCH_HEADER_BYTES;
    }
    chunk.push(m);
    size += bytes;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

// A topic's partitions' bounds, read by ListOffsets requests of our own at isolation level
// read_uncommitted: the end is the high watermark, every record the broker acknowledged.
// kafkajs's admin lists offsets read_committed only, whose end is the last stable offset: it
// stops at an open transaction's first record, so plain messages acknowledged after it did not
// count until the transaction ended (up to its timeout, 15 min), and a lag read 0 while they waited.
import type { Admin } from 'kafkajs';
import type { PartitionBounds } from './bus.ts';
import { type Connection, headerV1, open } from './kafka-wire.ts';

const LIST_OFFSETS = 2;
/** v2, the first with an isolation level (Kafka 0.11), is answered by every broker since (4.0 included). */
const VERSION = 2;
const READ_UNCOMMITTED = 0;
const EARLIEST = -2n;
const LATEST = -1n;
/**
 * The errors asking again may cure, by name: a topic just made, a leader moving or just elected (a
 * new leader answers OFFSET_NOT_AVAILABLE until its high watermark has caught up), a broker slow
 * or its disk failing over. kafkajs retries the same ones.
 */
const RETRIABLE_CODES: ReadonlyMap<number, string> = new Map([
  [3, 'UNKNOWN_TOPIC_OR_PARTITION'],
  [5, 'LEADER_NOT_AVAILABLE'],
  [6, 'NOT_LEADER_OR_FOLLOWER'],
  [7, 'REQUEST_TIMED_OUT'],
  [9, 'REPLICA_NOT_AVAILABLE'],
  [56, 'KAFKA_STORAGE_ERROR'],
  [74, 'FENCED_LEADER_EPOCH'],
  [75, 'UNKNOWN_LEADER_EPOCH'],
  [78, 'OFFSET_NOT_AVAILABLE'],
]);

const retriable = (message: string) => Object.assign(new Error(message), { retriable: true });

/** A partition's ListOffsets error, named, and marked retriable when asking again may cure it. */
export function listOffsetsError(topic: string, partition: number, code: number): Error {
  const name = RETRIABLE_CODES.get(code);
  const message = `ListOffsets for ${topic} partition ${partition} answered error ${code}${name ? ` ${name}` : ''}`;
  return name ? retriable(message) : new Error(message);
}

/**
 * Each partition's `start` (first offset held) and `end` (high watermark), in partition order,
 * asked of each partition's leader. An error that asking again may cure (a leader moving, a
 * broker that does not answer) is marked `retriable` (whileRetriable).
 */
export async function readBounds(admin: Admin, topic: string, clientId: string, timeoutMs = 5_000): Promise<PartitionBounds[]> {
  const [{ brokers }, metadata] = await Promise.all([admin.describeCluster(), admin.fetchTopicMetadata({ topics: [topic] })]);
  const byLeader = new Map<number, number[]>();
  for (const p of metadata.topics.find((t) => t.name === topic)?.partitions ?? []) {
    if (p.leader < 0) throw retriable(`partition ${p.partitionId} of ${topic} has no leader`);
    byLeader.set(p.leader, [...(byLeader.get(p.leader) ?? []), p.partitionId]);
  }
  const answers = await Promise.all(
    [...byLeader].map(async ([nodeId, partitions]) => {
      const broker = brokers.find((b) => b.nodeId === nodeId);
      if (!broker) throw retriable(`broker ${nodeId}, a leader of ${topic}, is not in the cluster's metadata`);
      const address = `${broker.host}:${broker.port}`;
      let conn: Connection;
      let starts: Map<number, string>;
      let ends: Map<number, string>;
      try {
        conn = await open(address, timeoutMs);
      } catch (err) {
        throw retriable(`${address}: ${(err as Error).message}`);
      }
      try {
        starts = await listOffsets(conn, clientId, 1, topic, partitions, EARLIEST);
        ends = await listOffsets(conn, clientId, 2, topic, partitions, LATEST);
      } finally {
        conn.close();
      }
      return partitions.map((partition) => ({ partition, start: starts.get(partition)!, end: ends.get(partition)! }));
    }),
  );
  return answers.flat().sort((a, b) => a.partition - b.partition);
}

/** One ListOffsets v2 request, read_uncommitted, of `timestamp` (-2 earliest, -1 latest): offset by partition. */
async function listOffsets(
  conn: Connection,
  clientId: string,
  correlation: number,
  topic: string,
  partitions: number[],
  timestamp: bigint,
): Promise<Map<number, string>> {
  const name = Buffer.from(topic, 'utf8');
  const head = Buffer.alloc(4 + 1 + 4 + 2);
  head.writeInt32BE(-1, 0); // replica id: a client
  head.writeInt8(READ_UNCOMMITTED, 4);
  head.writeInt32BE(1, 5); // one topic
  head.writeInt16BE(name.length, 9);
  const list = Buffer.alloc(4 + partitions.length * 12);
  list.writeInt32BE(partitions.length, 0);
  partitions.forEach((p, i) => {
    list.writeInt32BE(p, 4 + i * 12);
    list.writeBigInt64BE(timestamp, 8 + i * 12);
  });
  let body: Buffer;
  try {
    body = await conn.request(Buffer.concat([headerV1(LIST_OFFSETS, VERSION, correlation, clientId), head, name, list]), correlation);
  } catch (err) {
    throw retriable((err as Error).message);
  }
  return offsetsOf(body, topic, partitions.length);
}

/** A ListOffsets v2 answer: throttle_time_ms, then [topic, [partition, error_code, timestamp, offset]]. */
function offsetsOf(body: Buffer, topic: string, expected: number): Map<number, string> {
  const offsets = new Map<number, string>();
  try {
    let at = 4; // past throttle_time_ms
    const topics = body.readInt32BE(at);
    at += 4;
    for (let t = 0; t < topics; t++) {
      const size = body.readInt16BE(at);
      const name = body.toString('utf8', at + 2, at + 2 + size);
      at += 2 + size;
      const count = body.readInt32BE(at);
      at += 4;
      for (let i = 0; i < count; i++, at += 22) {
        const partition = body.readInt32BE(at);
        const error = body.readInt16BE(at + 4);
        if (name !== topic) continue;
        if (error !== 0) throw listOffsetsError(topic, partition, error);
        offsets.set(partition, body.readBigInt64BE(at + 14).toString());
      }
    }
  } catch (err) {
    if (err instanceof RangeError) throw new Error(`ListOffsets answer for ${topic} cut short`);
    throw err;
  }
  if (offsets.size !== expected) throw new Error(`ListOffsets answered ${offsets.size} of ${topic}'s ${expected} partitions asked`);
  return offsets;
}

import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import type { Bus, ConsumeOptions, Consumer, LogIdentity, TopicOptions } from './bus.ts';
import { chunksForKafka } from './kafka-chunks.ts';
import { KafkaConsumer } from './kafka-consumer.ts';
import { BusUnreachableError, reachBrokers } from './kafka-reach.ts';
import { readTopicId } from './kafka-topic-id.ts';
import { useLogAppendTime } from './kafka-timestamp-type.ts';
import { firstPartitions } from './kafka-partitions.ts';
import { readBounds } from './kafka-offsets.ts';
import { kafkaProducers } from './kafka-producer.ts';
import { waitUntilServed } from './kafka-topic-ready.ts';
import { isTopicUnknown, whileRetriable } from './retriable.ts';

/** How long a broker has to accept a TCP connection, then Kafka to accept our clients. */
const PROBE_TIMEOUT_MS = 3_000;
const CONNECT_TIMEOUT_MS = 10_000;

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  log?: (event: string, fields?: Record<string, string | number>) => void;
  /**
   * kafkajs's retries of a request (10 unless given) for the admin and the consumers; the
   * producer's are at most 4 (kafka-producer.ts: a publish gives up within about 8 s). Tests shorten them.
   */
  retries?: number;
}

/** How long describeLog asks again while Kafka answers that it does not host the topic yet. */
const DESCRIBE_WITHIN_MS = 10_000;

/**
 * The bus on Apache Kafka, through kafkajs. Kafka that does not answer is a
 * BusUnreachableError within seconds (no broker accepts a connection within
 * 3 s, or the clients cannot connect within 10 s), not kafkajs's long retries.
 */
export async function createKafkaBus(opts: KafkaBusOptions): Promise<Bus> {
  await reachBrokers(opts.brokers, PROBE_TIMEOUT_MS);
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: opts.retries ?? 10, initialRetryTime: 200 },
  });
  const admin: Admin = kafka.admin();
  // On a client of its own, with a retry schedule bounded for a publish (kafka-producer.ts).
  const producers = kafkaProducers({
    brokers: opts.brokers,
    clientId: opts.clientId,
    ...(opts.retries === undefined ? {} : { retries: opts.retries }),
    onReplaced: (err) =>
      opts.log?.('bus.publish_failed', { error: (err as Error)?.message ?? String(err), action: 'the next publish gets a new producer' }),
  });
  const producer: Producer = producers.first;
  await connectWithin([admin, producer], opts.brokers);
  const consumers = new Set<Consumer>();
  const askBrokers = firstAnswering(opts.brokers);

  async function describeLog(topic: string): Promise<LogIdentity> {
    // Just after the topic was created (metering's boot, a topic created again) the broker may not host it yet.
    const [{ clusterId }, metadata, topicId] = await whileRetriable(
      () =>
        Promise.all([
          admin.describeCluster(),
          admin.fetchTopicMetadata({ topics: [topic] }),
          askBrokers((broker) => readTopicId(broker, topic, opts.clientId)),
        ]),
      DESCRIBE_WITHIN_MS,
    );
    const partitions = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
    if (partitions === 0) throw new Error(`topic ${topic} has no partitions on Kafka`);
    return { id: `kafka:${clusterId}/${topic}/${topicId ?? '-'}`, partitions };
  }

  /** Each partition's bounds, its end the high watermark (kafka-offsets.ts: kafkajs's is the last stable offset). */
  const partitionBounds = (topic: string) => whileRetriable(() => readBounds(admin, topic, opts.clientId), DESCRIBE_WITHIN_MS);

  // What each topic this bus ensured was asked to be, to make it again the same way.
  const ensured = new Map<string, { partitions: number; options: TopicOptions }>();
  async function ensureTopic(topic: string, partitions: number, options: TopicOptions = {}): Promise<boolean> {
    ensured.set(topic, { partitions, options });
    const existing = await admin.listTopics();
    if (existing.includes(topic)) return false;
    // As many copies as the live brokers can hold, up to 3; with 3, a write (acks=all) waits for two
    // of them (min.insync.replicas, the broker's default being 1), so one broker lost loses no
    // acknowledged message. With 2 copies a leader left alone still takes writes.
    const { brokers } = await admin.describeCluster();
    const replicationFactor = Math.max(1, Math.min(3, brokers.length));
    const configEntries = [
      ...(replicationFactor === 3 ? [{ name: 'min.insync.replicas', value: '2' }] : []),
      ...(options.keepForever ? [{ name: 'retention.ms', value: '-1' }] : []),
      ...(options.brokerTimestamps ? [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] : []),
    ];
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor, ...(configEntries.length > 0 ? { configEntries } : {}) }],
      // Not kafkajs's wait: it fails the create when the broker does not host the topic yet (kafka-topic-ready.ts).
      waitForLeaders: false,
    });
    // Also when another client made it first (createTopics answered false): the publish that follows
    // needs a leader for every partition.
    await waitUntilServed(admin, topic, DESCRIBE_WITHIN_MS);
    return true;
  }

  /** After a failed send: a topic this bus ensured that is gone is made again, so the caller's retry finds it. */
  async function ensureAgain(topic: string): Promise<void> {
    const asked = ensured.get(topic);
    if (asked === undefined) return;
    try {
      if (await ensureTopic(topic, asked.partitions, asked.options)) {
        opts.log?.('bus.topic_created_again', { topic, partitions: asked.partitions });
      }
    } catch {
      // The send's own error is the one to report; the next failure tries again.
    }
  }

  return {
    kind: 'kafka',
    async ensureTopic(topic, partitions, options) {
      await ensureTopic(topic, partitions, options);
    },
    useBrokerTimestamps: (topic) => useLogAppendTime(admin, topic),
    async publish(topic, messages, options) {
      const routed = options?.partitions === undefined ? undefined : firstPartitions(topic, options.partitions);
      // One send under the broker's batch limit at a time (kafka-chunks.ts), awaited in
      // order: each key's messages keep their order. A send failing after earlier ones
      // were durable rejects the publish; the caller answers non-2xx and the client sends
      // it all again, so those are delivered twice, which at-least-once allows (consumers
      // dedupe by event id), as one send's partitions could already before.
      const chunks = chunksForKafka(messages);
      try {
        await producers.use(async (producer) => {
          for (const chunk of chunks) {
            await producer.send({
              topic,
              acks: -1,
              messages: chunk.map((m) => ({
                key: m.key,
                value: m.value,
                ...(m.headers ? { headers: m.headers } : {}),
                ...(routed ? { partition: routed(m) } : {}),
              })),
            });
          }
        });
      } catch (err) {
        // Only when Kafka says the topic is not there: a broker that is down would otherwise make
        // every failed publish wait a second retry schedule (listTopics) before it rejects.
        if (isTopicUnknown(err)) await ensureAgain(topic);
        throw err;
      }
    },
    async consume(options: ConsumeOptions) {
      const consumer = new KafkaConsumer(kafka, options, async () => (await describeLog(options.topic)).id, opts.log);
      consumers.add(consumer);
      await consumer.start();
      return consumer;
    },
    async lag(topic, groupId) {
      const [bounds, committed] = await Promise.all([partitionBounds(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
      const done = new Map<number, bigint>();
      for (const p of committed[0]?.partitions ?? []) {
        // '-1': the group never committed here; it will start at the low watermark.
        if (p.offset !== '-1') done.set(p.partition, BigInt(p.offset));
      }
      let lag = 0n;
      for (const b of bounds) lag += BigInt(b.end) - (done.get(b.partition) ?? BigInt(b.start));
      return Number(lag);
    },
    describeLog,
    bounds: partitionBounds,
    async close() {
      await Promise.all([...consumers].map((c) => c.stop()));
      await producers.close();
      await admin.disconnect();
    },
  };
}

/** Connects the clients, or gives up after CONNECT_TIMEOUT_MS with a BusUnreachableError. */
async function connectWithin(clients: (Admin | Producer)[], brokers: string[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.all(clients.map((c) => c.connect())), timeout]);
  } catch (err) {
    for (const c of clients) c.disconnect().catch(() => {});
    throw new BusUnreachableError(brokers, (err as Error).message);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Asks the brokers one at a time until one answers, the one that answered
 * last first: a broker down and silent costs its whole timeout (5 s) once,
 * not at every read of the log's identity. The last error when none answers.
 */
export function firstAnswering(brokers: string[]): <T>(ask: (broker: string) => Promise<T>) => Promise<T> {
  let answered: string | undefined;
  return async (ask) => {
    let last: unknown;
    for (const broker of answered ? [answered, ...brokers.filter((b) => b !== answered)] : brokers) {
      try {
        const answer = await ask(broker);
        answered = broker;
        return answer;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };
}

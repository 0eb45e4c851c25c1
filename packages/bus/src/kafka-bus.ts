import { Kafka, Partitioners, logLevel, type Admin, type Producer } from 'kafkajs';
import type { Bus, ConsumeOptions, Consumer } from './bus.ts';
import { KafkaConsumer } from './kafka-consumer.ts';

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  log?: (event: string, fields?: Record<string, string | number>) => void;
}

/** The bus on Apache Kafka, through kafkajs. */
export async function createKafkaBus(opts: KafkaBusOptions): Promise<Bus> {
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 200 },
  });
  const admin: Admin = kafka.admin();
  await admin.connect();
  // Idempotent, acks=all, one request in flight: no duplicates or reordering
  // from the producer's own retries.
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const consumers = new Set<Consumer>();

  return {
    kind: 'kafka',
    async ensureTopic(topic, partitions) {
      const existing = await admin.listTopics();
      if (existing.includes(topic)) return;
      await admin.createTopics({
        topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
        waitForLeaders: true,
      });
    },
    async publish(topic, messages) {
      if (messages.length === 0) return;
      await producer.send({
        topic,
        acks: -1,
        messages: messages.map((m) => ({ key: m.key, value: m.value })),
      });
    },
    async consume(options: ConsumeOptions) {
      const consumer = new KafkaConsumer(kafka, options, opts.log);
      consumers.add(consumer);
      await consumer.start();
      return consumer;
    },
    async lag(topic, groupId) {
      const [high, committed] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId, topics: [topic] }),
      ]);
      const done = new Map<number, bigint>();
      for (const p of committed[0]?.partitions ?? []) {
        // '-1': the group never committed here; it will start at the low watermark.
        if (p.offset !== '-1') done.set(p.partition, BigInt(p.offset));
      }
      let lag = 0n;
      for (const p of high) lag += BigInt(p.high) - (done.get(p.partition) ?? BigInt(p.low));
      return Number(lag);
    },
    async close() {
      await Promise.all([...consumers].map((c) => c.stop()));
      await producer.disconnect();
      await admin.disconnect();
    },
  };
}

import type { Consumer as KafkaJsConsumer, Kafka } from 'kafkajs';
import type { ConsumeOptions, Consumer, IncomingMessage } from './bus.ts';

/**
 * A kafkajs consumer-group member with commits under our control: offsets are
 * committed only after `eachBatch` has resolved, never on a timer.
 */
export class KafkaConsumer implements Consumer {
  private readonly consumer: KafkaJsConsumer;
  private assigned: number[] = [];
  private crashed: string | undefined;
  private stopped = false;

  constructor(
    kafka: Kafka,
    private readonly options: ConsumeOptions,
    private readonly log?: (event: string, fields?: Record<string, string | number>) => void,
  ) {
    const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 5)),
      // Bounds memory per fetch; the batch size bound is applied on top.
      maxBytesPerPartition: 2 * 1024 * 1024,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5_000 },
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      this.assigned = [...(e.payload.memberAssignment[options.topic] ?? [])].sort((a, b) => a - b);
    });
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      this.log?.('bus.consumer_crash', { error: e.payload.error.message, restart: String(e.payload.restart) });
      if (!e.payload.restart) this.crashed = e.payload.error.message;
    });
  }

  async start(): Promise<void> {
    const { topic, maxBatchSize = 500, autoCommit = true } = this.options;
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: this.options.partitionsConcurrently ?? 1,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        // A fetch can hold more than we want in one batch: hand it over in slices.
        for (let start = 0; start < batch.messages.length; start += maxBatchSize) {
          if (!isRunning() || isStale()) return;
          const slice = batch.messages.slice(start, start + maxBatchSize);
          const messages: IncomingMessage[] = slice.map((m) => ({
            topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key?.toString('utf8') ?? '',
            value: m.value ?? Buffer.alloc(0),
            timestamp: Number(m.timestamp),
          }));
          await this.options.eachBatch({
            topic,
            partition: batch.partition,
            messages,
            highWatermark: batch.highWatermark,
          });
          const last = slice[slice.length - 1]!.offset;
          if (autoCommit) await this.commit(batch.partition, (BigInt(last) + 1n).toString());
          resolveOffset(last);
          await heartbeat();
        }
      },
    });
  }

  assignment(): number[] {
    return this.assigned;
  }

  isHealthy(): boolean {
    return this.crashed === undefined && !this.stopped;
  }

  failure(): string | undefined {
    return this.crashed;
  }

  async commit(partition: number, offset: string): Promise<void> {
    await this.consumer.commitOffsets([{ topic: this.options.topic, partition, offset }]);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.consumer.disconnect();
  }
}

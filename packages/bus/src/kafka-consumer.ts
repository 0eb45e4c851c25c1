import type { Consumer as KafkaJsConsumer, Kafka } from 'kafkajs';
import type { ConsumeOptions, Consumer, IncomingMessage } from './bus.ts';
import { textHeaders } from './headers.ts';

const IDENTITY_MAX_AGE_MS = 5_000;
/** Errors by which kafkajs says the group no longer knows this member; it does not restart on them. */
const MEMBERSHIP_LOST = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID']);

/** The protocol error's type under kafkajs's wrappers (each keeps the one it wraps as `cause`). */
function originalType(error: unknown): string {
  let e = error as { type?: unknown; cause?: unknown } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return typeof e?.type === 'string' ? e.type : '';
}

/**
 * A kafkajs consumer-group member with commits under our control: offsets are
 * committed only after `eachBatch` has resolved, never on a timer.
 */
export class KafkaConsumer implements Consumer {
  private consumer: KafkaJsConsumer;
  private assigned: number[] = [];
  private crashed: string | undefined;
  private stopped = false;
  /** The log's identity and when it was read; forgotten at each join. */
  private identity: { id: string; at: number } | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: ConsumeOptions,
    private readonly describeLog: () => Promise<string>,
    private readonly log?: (event: string, fields?: Record<string, string | number>) => void,
  ) {
    this.consumer = this.build();
  }

  private build(): KafkaJsConsumer {
    const { options } = this;
    const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 5)),
      // Bounds memory per fetch; the batch size bound is applied on top.
      maxBytesPerPartition: 1024 * 1024,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5_000 },
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.assigned = [...(e.payload.memberAssignment[options.topic] ?? [])].sort((a, b) => a - b);
      this.identity = undefined;
    });
    consumer.on(consumer.events.CRASH, (e) => {
      const error = e.payload.error;
      const rejoin = !e.payload.restart && !this.stopped && MEMBERSHIP_LOST.has(originalType(error));
      this.log?.('bus.consumer_crash', { error: error.message, restart: String(e.payload.restart || rejoin) });
      if (rejoin) void this.rejoin();
      else if (!e.payload.restart) this.crashed = error.message;
    });
    return consumer;
  }

  /**
   * kafkajs gives up on a member the group forgot (its session expired while a
   * batch waited, e.g. on a database outage): a new member joins in its place.
   * Nothing is lost or doubled: what was applied is known by the stored positions.
   */
  private async rejoin(): Promise<void> {
    await this.consumer.disconnect().catch(() => {});
    if (this.stopped) return;
    this.consumer = this.build();
    try {
      await this.start();
    } catch (err) {
      this.crashed = (err as Error).message;
      this.log?.('bus.consumer_crash', { error: this.crashed, restart: 'false' });
    }
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
        const log = await this.currentLog();
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
            ...(m.headers ? { headers: textHeaders(m.headers) } : {}),
          }));
          const answer = await this.options.eachBatch({
            topic,
            partition: batch.partition,
            messages,
            highWatermark: batch.highWatermark,
            log,
          });
          if (answer) {
            // Nothing resolved: the next fetch of this partition starts there
            // (out of range: from its start, as fromBeginning says).
            this.consumer.seek({ topic, partition: batch.partition, offset: answer.readFrom });
            return;
          }
          const last = slice[slice.length - 1]!.offset;
          if (autoCommit) await this.commit(batch.partition, (BigInt(last) + 1n).toString());
          resolveOffset(last);
          await heartbeat();
        }
      },
    });
  }

  /**
   * The identity of the log batches come from, read again every few seconds:
   * a topic deleted and created again under a running consumer is told apart
   * within that time, and its batches are then named for the new log.
   */
  private async currentLog(): Promise<string> {
    if (!this.identity || Date.now() - this.identity.at > IDENTITY_MAX_AGE_MS) {
      this.identity = { id: await this.describeLog(), at: Date.now() };
    }
    return this.identity.id;
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

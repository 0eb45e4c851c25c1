/**
 * The bus: publish to a topic, consume it in a consumer group, commit what has
 * been processed. Two adapters speak it: Kafka (kafkajs) and the embedded bus,
 * a durable log in PostgreSQL. Delivery is at least once; a consumer commits
 * only after its batch is stored, so a killed consumer's batch is redelivered.
 */
export interface OutgoingMessage {
  /** Messages of one key keep their order (they share a partition). */
  key: string;
  value: string | Buffer;
  /**
   * Kafka record headers (e.g. a CloudEvent's `content-type` in structured
   * mode). Kafka only: the embedded log keeps no headers, so it refuses a
   * message that has any rather than drop them.
   */
  headers?: Record<string, string>;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  /** Position in the partition, as a decimal string (Kafka offsets are int64). */
  offset: string;
  key: string;
  value: Buffer;
  /** When the message reached the bus, epoch milliseconds. */
  timestamp: number;
  /**
   * Kafka's record headers (names as sent, values as UTF-8 text; the first of
   * a repeated name): a CloudEvents binary-mode message's `ce_` attributes.
   * Decoded strictly: a header without a value, or whose value is not UTF-8,
   * is not here but in `nonTextHeaders`. The embedded bus carries none.
   */
  headers?: Record<string, string>;
  /**
   * The headers `headers` leaves out, as sent: null for one without a value,
   * the bytes of one that is not UTF-8 (never read with U+FFFD). Usually absent.
   */
  nonTextHeaders?: Record<string, Buffer | null>;
}

export interface Batch {
  topic: string;
  partition: number;
  /** In partition order, never empty. */
  messages: IncomingMessage[];
  /** Highest offset in the partition + 1 when the batch was fetched, for lag. */
  highWatermark: string;
  /** The identity of the log it was read from (`LogIdentity.id`): offsets compare only within one log. */
  log: string;
  /**
   * Kafka only: no message to read lies at an offset from here up to the first message's. The
   * fetch began here (or earlier, when the fetch before it ended on such offsets) and found only
   * what takes an offset without being a message: a transaction's commit or abort marker, an
   * aborted transaction's records, or nothing (compaction). Kafka answers a fetch below the
   * log's start with an error, never with a later batch, so such a gap hides nothing. Unset on
   * the embedded bus, which reads exactly where it is asked and whose missing offsets were
   * messages (trimmed or deleted).
   */
  fetchedFrom?: string;
  /**
   * Kafka only: no message to read lies after the last message, below this offset (the last
   * slice of a fetch: where the fetch ended, past a commit marker or an aborted transaction's
   * records after the last message). Unset on the embedded bus and on a fetch's earlier slices.
   */
  fetchedTo?: string;
}

/**
 * Kafka only: offsets `from` up to `to` (excluded) hold no message to read. `from` is right after a
 * message handed over before (or where a fetch began); a fetch there found only transaction markers
 * or aborted records, which no batch carries.
 */
export interface EmptyRange {
  topic: string;
  partition: number;
  log: string;
  from: string;
  to: string;
}

/**
 * Which log a topic's offsets belong to. An offset means something only in the
 * log it was read from: a topic deleted and created again, another cluster or
 * the other adapter start again at 0 with other messages.
 */
export interface LogIdentity {
  /**
   * Kafka: `kafka:<cluster id>/<topic>/<topic id>` (the topic id as the broker
   * reports it, `-` when it reports none); embedded: `embedded:<bus id>/<topic>/<incarnation>`.
   */
  id: string;
  partitions: number;
}

/** A partition's bounds: its first message still held (`start`) and its next offset (`end`). */
export interface PartitionBounds {
  partition: number;
  start: string;
  end: string;
}

/** What `eachBatch` may answer instead of taking a batch: read the partition again from `readFrom`. */
export interface ReadFrom {
  readFrom: string;
}

/** How long a consumer's failure waits for a stop signal on its way before it is logged as an error (`stopping`). */
export const STOP_SIGNAL_GRACE_MS = 250;

export interface ConsumeOptions {
  topic: string;
  groupId: string;
  /**
   * One partition's messages at a time. When it resolves the batch is committed
   * (unless `autoCommit` is false); when it throws, nothing is committed and the
   * batch comes again. Answering `{ readFrom }` commits nothing and has the
   * partition read again from that offset (when the log no longer holds it:
   * from its start).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler that takes every batch returns nothing
  eachBatch(batch: Batch): Promise<void | ReadFrom>;
  /**
   * Kafka only, optional: a fetch of the partition found no message, only offsets that hold none
   * (a transaction's marker after the last message handed over, an aborted transaction). Called in
   * the partition's order, after the batches before it are handled; what it throws is logged
   * (`bus.empty_range_failed`) and left: it commits nothing and is not called again.
   */
  eachEmptyRange?(range: EmptyRange): Promise<void>;
  autoCommit?: boolean;
  /** Upper bound on messages per batch (memory is bounded by it). */
  maxBatchSize?: number;
  /**
   * Partitions processed at once by this member (each batch still in order
   * within its partition). Kafka only; the embedded bus takes them in turn.
   */
  partitionsConcurrently?: number;
  /** How long a silent member keeps its partitions (Kafka's session timeout). */
  sessionTimeoutMs?: number;
  /**
   * Whether the app was asked to stop (runApp's `stopping`). A terminal's Ctrl-C stops the
   * embedded PostgreSQL with the app, often before the app's own handler runs: an error then is
   * that stop, `bus.consumer_interrupted` (info), not `bus.consumer_error` or, on Kafka, a
   * handler's `bus.batch_failed` (warn).
   */
  stopping?: () => boolean;
}

export interface Consumer {
  /** Partitions this member owns now. */
  assignment(): number[];
  /** Commits `offset` as the next one to read for `partition`. */
  commit(partition: number, offset: string): Promise<void>;
  /** Stops after the batch in hand; its commit (if any) is done first. */
  stop(): Promise<void>;
  /** False once the consumer has crashed beyond recovery, or was stopped. */
  isHealthy(): boolean;
  /** What crashed it, once it has: undefined while healthy or after a plain stop(). */
  failure(): string | undefined;
  /** How recently it reached its bus: for a health check that tells a bus gone from one merely idle. */
  reach(): BusReach;
}

/**
 * A consumer's reach of its bus, as its own signals show it. An idle topic on a bus that answers
 * keeps `lastReached` recent (Kafka: a fetch's long poll answers every 5 s and heartbeats every
 * 2 s; embedded: its polls every 0.5 s).
 */
export interface BusReach {
  /** Epoch ms when the bus last answered it (Kafka: any broker's response; embedded: one of its reads), or it left its handler. */
  lastReached: number;
  /** In its handler now: the consumer's own work (a long batch), during which it asks the bus nothing. */
  busy: boolean;
  /** Kafka: epoch ms since when its member has been out of its group (before its first join, rejoining, restarting). */
  outOfGroupSince?: number;
  /** The last failure to reach the bus it saw (a request timed out, a crash, a read's error): for the log only. */
  lastError?: string;
}

/** How a topic the bus creates keeps its messages. */
export interface TopicOptions {
  /**
   * Kafka: `retention.ms=-1`, kept until an operator says otherwise (the broker's default is 7
   * days), for a topic whose readers may start from its beginning long after. The embedded log
   * is trimmed by its readers' commits only (bus.md), so it keeps them already.
   */
  keepForever?: boolean;
  /**
   * Kafka: `message.timestamp.type=LogAppendTime`, each message's timestamp the broker's clock
   * when it took it, for a reader that judges by when a message reached the bus (a producer's
   * own timestamp, CreateTime, may be anything). The embedded bus stamps its own clock already.
   */
  brokerTimestamps?: boolean;
}

export interface PublishOptions {
  /**
   * Spread the keys over the topic's first `partitions` partitions only, each to the one it went
   * to when the topic had that many: partitions added later (which keep the log) then take none
   * of them, so each key stays in one partition, in order. Without it, the topic's partitions now.
   */
  partitions?: number;
}

export interface Bus {
  readonly kind: 'kafka' | 'embedded';
  /**
   * Creates the topic when missing; an existing topic keeps its partitions and configuration.
   * Kafka: a topic this bus ensured that is gone when a publish to it fails (deleted by an
   * operator) is created again by the bus the same way, never by the broker's auto-creation.
   */
  ensureTopic(topic: string, partitions: number, options?: TopicOptions): Promise<void>;
  /**
   * Kafka only: an existing topic's `message.timestamp.type` set to LogAppendTime (the topic's
   * other configs kept) when it is CreateTime; resolves to what it was. Rejects when the broker
   * refuses (no ALTER_CONFIGS right). The embedded bus stamps its own clock and has none.
   */
  useBrokerTimestamps?(topic: string): Promise<string>;
  /** Resolves once every message is durable on the bus. */
  publish(topic: string, messages: OutgoingMessage[], options?: PublishOptions): Promise<void>;
  consume(options: ConsumeOptions): Promise<Consumer>;
  /** Messages published but not yet committed by the group, over all partitions. */
  lag(topic: string, groupId: string): Promise<number>;
  /** The identity of the topic's log now, and its partition count. */
  describeLog(topic: string): Promise<LogIdentity>;
  /** Each partition's bounds now, in partition order. */
  bounds(topic: string): Promise<PartitionBounds[]>;
  close(): Promise<void>;
}

import type { Consumer as KafkaJsConsumer, Kafka, KafkaMessage } from 'kafkajs';
import { type BusReach, type ConsumeOptions, type Consumer, type IncomingMessage, type ReadFrom, STOP_SIGNAL_GRACE_MS } from './bus.ts';
import { ReachTracker } from './consumer-reach.ts';
import { DROPPED, FetchAhead } from './fetch-ahead.ts';
import { EmptyRanges } from './kafka-empty-ranges.ts';
import { nonTextHeaders, textHeaders } from './headers.ts';

const IDENTITY_MAX_AGE_MS = 5_000;
/** kafkajs hands over up to this many partitions' batches at once; FetchAhead bounds how many run. */
const QUEUED_PARTITIONS = 1_000;
/** A failed batch is read again at once and handed over after 0.3 s, then twice as long each time it fails again, up to 5 s. */
const RETRY_FIRST_MS = 300;
const RETRY_MAX_MS = 5_000;

interface FetchedBatch {
  partition: number;
  messages: KafkaMessage[];
  highWatermark: string;
  log: string;
  /** `Batch.fetchedFrom` of its first slice. */
  fetchedFrom: string;
  /** Where kafkajs fetches next: past the last message and any commit marker or aborted records after it. */
  through: string;
}
/**
 * A kafkajs message as the bus hands it on, read from it when asked: a copy
 * per message (its key decoded, its timestamp parsed) would live as long as
 * the batch, which a consumer such as metering holds across its database work.
 */
class Incoming implements IncomingMessage {
  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly m: KafkaMessage,
  ) {}
  get offset(): string {
    return this.m.offset;
  }
  get key(): string {
    return this.m.key?.toString('utf8') ?? '';
  }
  get value(): Buffer {
    return this.m.value ?? EMPTY;
  }
  get timestamp(): number {
    return Number(this.m.timestamp);
  }
  get headers(): Record<string, string> | undefined {
    return this.m.headers ? textHeaders(this.m.headers) : undefined;
  }
  get nonTextHeaders(): Record<string, Buffer | null> | undefined {
    return this.m.headers ? nonTextHeaders(this.m.headers) : undefined;
  }
}
const EMPTY = Buffer.alloc(0);

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
  /** Batches fetched and not yet handled, of the current kafkajs consumer. */
  private ahead: FetchAhead | undefined;
  /** Failures in a row, per partition, for the pause before it is handled again, and its end. */
  private readonly failures = new Map<number, number>();
  private readonly retryAt = new Map<number, number>();
  /** A member being made again (rejoin), until it runs or fails. */
  private rejoining: Promise<void> | undefined;
  /** The log's identity and when it was read; forgotten at each join. */
  private identity: { id: string; at: number } | undefined;
  /** Offsets fetches showed to hold no message: batches' spans and `eachEmptyRange`. */
  private readonly empty: EmptyRanges;
  /** Per partition, the offset this member last committed since it joined. */
  private readonly committed = new Map<number, string>();
  /** When a broker last answered any of its members (`reach()`). */
  private readonly reached = new ReachTracker();

  constructor(
    private readonly kafka: Kafka,
    private readonly options: ConsumeOptions,
    private readonly describeLog: () => Promise<string>,
    private readonly log?: (event: string, fields?: Record<string, string | number>) => void,
  ) {
    this.empty = new EmptyRanges(options, {
      ahead: () => this.ahead,
      knownLog: () => this.identity?.id,
      currentLog: () => this.currentLog(),
      committed: (partition) => this.committed.get(partition),
      commitAfter: (partition, offset) => this.commitAfter(partition, offset),
      stopped: () => this.stopped,
      ...(log ? { log } : {}),
    });
    this.consumer = this.build();
  }

  private build(): KafkaJsConsumer {
    const { options } = this;
    const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 5)),
      // Bounds memory per fetch, of which two are held (one handled, one queued: FetchAhead);
      // the batch size bound is applied on top.
      maxBytesPerPartition: 512 * 1024,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5_000 },
      // A topic deleted under a running consumer is not made again by its metadata requests with the
      // broker's defaults (kafka-bus.ts); whoever ensures it makes it as it was.
      allowAutoTopicCreation: false,
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      // A member replaced (rejoin) speaks no more for this consumer.
      if (consumer !== this.consumer) return;
      this.assigned = [...(e.payload.memberAssignment[options.topic] ?? [])].sort((a, b) => a - b);
      this.identity = undefined;
      this.empty.clear();
      this.committed.clear();
      this.log?.('bus.joined', { partitions: this.assigned.length });
      // A join starts every partition again from its committed offset (kafkajs forgets what it
      // resolved): what was fetched and queued before it is dropped, not handled twice.
      this.ahead?.dropAll();
    });
    this.empty.listen(consumer, () => consumer === this.consumer);
    this.reached.listen(consumer, () => consumer === this.consumer);
    consumer.on(consumer.events.CRASH, (e) => {
      if (consumer !== this.consumer) return;
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
  private rejoin(): Promise<void> {
    // Once at a time: a crash and a refused seek may both ask for it; stop() waits for it.
    this.rejoining ??= (async () => {
      try {
        this.ahead?.dropAll();
        await this.consumer.disconnect().catch(() => {});
        if (this.stopped) return;
        this.consumer = this.build();
        await this.start();
      } catch (err) {
        this.crashed = (err as Error).message;
        this.log?.('bus.consumer_crash', { error: this.crashed, restart: 'false' });
      } finally {
        this.rejoining = undefined;
      }
    })();
    return this.rejoining;
  }

  async start(): Promise<void> {
    const { topic } = this.options;
    const consumer = this.consumer;
    const ahead = new FetchAhead(this.options.partitionsConcurrently ?? 1, (partition, err) =>
      this.log?.('bus.handle_failed', { partition, error: (err as Error).message }),
    );
    this.ahead = ahead;
    // Out of the group until it joins (kafkajs's GROUP_JOIN).
    this.reached.leftGroup();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      // Every partition of a fetch is queued at once; FetchAhead runs `partitionsConcurrently` of them.
      partitionsConsumedConcurrently: QUEUED_PARTITIONS,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return;
        const epoch = ahead.epoch(batch.partition);
        const log = await this.currentLog();
        // A seek, a join or a stop while the log was read: this batch is from before it, and
        // kafkajs reads the partition again from where that put it.
        if (!isRunning() || isStale() || ahead.epoch(batch.partition) !== epoch) return;
        const fetched: FetchedBatch = {
          partition: batch.partition,
          messages: batch.messages,
          highWatermark: batch.highWatermark,
          log,
          ...this.empty.span(batch, log),
        };
        const previous = ahead.queue(batch.partition, (current) => this.handle(consumer, ahead, fetched, current), epoch);
        // kafkajs fetches this partition next from after this batch. Nothing is committed before
        // it is handled; if it is dropped, the partition is sought back (a failure, a `readFrom`)
        // or read again from its committed offset (a new assignment, a new member).
        resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
        await previous;
        await heartbeat();
      },
    });
  }

  /** A fetched batch, handed over in slices of at most `maxBatchSize`, in order. */
  private async handle(consumer: KafkaJsConsumer, ahead: FetchAhead, fetched: FetchedBatch, current: () => boolean): Promise<void> {
    const { topic, maxBatchSize = 500, autoCommit = true } = this.options;
    const { partition } = fetched;
    // Each slice after the first begins right after the one before.
    let fetchedFrom = fetched.fetchedFrom;
    for (let start = 0; start < fetched.messages.length; start += maxBatchSize) {
      // After a failure the partition is read again at once, and handled after a pause.
      const pause = (this.retryAt.get(partition) ?? 0) - Date.now();
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      const slice = fetched.messages.slice(start, start + maxBatchSize);
      const lastSlice = start + maxBatchSize >= fetched.messages.length;
      const messages: IncomingMessage[] = slice.map((m) => new Incoming(topic, partition, m));
      let answer: ReadFrom | undefined;
      try {
        const handed = await ahead.slot(
          // The handler's time is its own (a long batch), not the bus's silence (`reach()`).
          () =>
            this.reached.during(() =>
              this.options.eachBatch({
                topic,
                partition,
                messages,
                highWatermark: fetched.highWatermark,
                log: fetched.log,
                fetchedFrom,
                ...(lastSlice ? { fetchedTo: fetched.through } : {}),
              }),
            ),
          // A join, a seek or a stop since it was queued (during the pause, or while it waited for a
          // slot): fetched again, never handled here.
          () => current() && !this.stopped,
        );
        if (handed === DROPPED) return;
        answer = handed ?? undefined;
      } catch (err) {
        // Nothing of it is committed. What was queued behind it is dropped and the partition
        // sought back to this slice's first message at once (so what kafkajs fetched before is
        // stale), to be handled again after a pause: a database outage lasts.
        ahead.drop(partition);
        const failures = (this.failures.get(partition) ?? 0) + 1;
        this.failures.set(partition, failures);
        const pause = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1));
        this.retryAt.set(partition, Date.now() + pause);
        // Sought back before the stop's grace below: nothing fetched after this slice may be handled first.
        this.seek(consumer, partition, slice[0]!.offset);
        const error = (err as Error).message;
        if (await this.stopAsked())
          this.log?.('bus.consumer_interrupted', { partition, offset: slice[0]!.offset, error, reason: 'the app is stopping' });
        else this.log?.('bus.batch_failed', { partition, offset: slice[0]!.offset, error, retry_in: `${pause}ms` });
        return;
      }
      this.failures.delete(partition);
      this.retryAt.delete(partition);
      if (answer) {
        // Nothing resolved: the next fetch of this partition starts there
        // (out of range: from its start, as fromBeginning says).
        ahead.drop(partition);
        this.seek(consumer, partition, answer.readFrom);
        return;
      }
      fetchedFrom = (BigInt(slice[slice.length - 1]!.offset) + 1n).toString();
      // The last slice commits past a commit marker after it too: a transactional topic's lag reaches 0.
      const next = lastSlice ? fetched.through : fetchedFrom;
      if (autoCommit) await this.commitAfter(partition, next);
    }
  }

  /**
   * Whether a batch's failure is a stop's: stop() called, or the app asked to stop (`stopping`).
   * A terminal's Ctrl-C reaches an embedded PostgreSQL too, which may fail the handler's
   * statements before the app's own handler has run: the signal is given a moment first.
   */
  private async stopAsked(): Promise<boolean> {
    const asked = () => this.stopped || this.options.stopping?.() === true;
    if (!asked()) await new Promise((resolve) => setTimeout(resolve, STOP_SIGNAL_GRACE_MS));
    return asked();
  }

  /**
   * Only an optimisation for the handler (metering keeps its own positions): a commit the group
   * refuses (a rebalance) is said and left; the member finds out at its next heartbeat.
   */
  private async commitAfter(partition: number, offset: string): Promise<void> {
    try {
      await this.commit(partition, offset);
      this.committed.set(partition, offset);
    } catch (err) {
      this.log?.('bus.commit_failed', { partition, offset, error: (err as Error).message });
    }
  }

  /**
   * Has kafkajs fetch the partition from `offset` next, unless this consumer was replaced or
   * stopped. kafkajs refuses while it restarts after a crash (its group not made yet): the
   * member is then made again, which reads every partition from its committed offset, so
   * nothing resolved past the batch is skipped.
   */
  private seek(consumer: KafkaJsConsumer, partition: number, offset: string): void {
    if (this.stopped || consumer !== this.consumer) return;
    try {
      consumer.seek({ topic: this.options.topic, partition, offset });
    } catch (err) {
      this.log?.('bus.seek_failed', { partition, offset, error: (err as Error).message });
      // A consumer crashed beyond recovery stays down (isHealthy says so); it is not made again here.
      if (this.crashed === undefined) void this.rejoin();
    }
  }

  /**
   * The identity of the log batches come from, read again every few seconds:
   * a topic deleted and created again under a running consumer is told apart
   * within that time, and its batches are then named for the new log.
   */
  private async currentLog(): Promise<string> {
    if (this.identity && Date.now() - this.identity.at <= IDENTITY_MAX_AGE_MS) return this.identity.id;
    // One read at a time: every partition's batch waits for the same answer rather than asking again.
    this.reading ??= this.describeLog()
      .then((id) => {
        this.identity = { id, at: Date.now() };
        return id;
      })
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  private reading: Promise<string> | undefined;

  assignment(): number[] {
    return this.assigned;
  }

  isHealthy(): boolean {
    return this.crashed === undefined && !this.stopped;
  }

  failure(): string | undefined {
    return this.crashed;
  }

  reach(): BusReach {
    return this.reached.snapshot();
  }

  async commit(partition: number, offset: string): Promise<void> {
    await this.consumer.commitOffsets([{ topic: this.options.topic, partition, offset }]);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // What is queued is left for the next member (nothing of it is committed); what runs finishes.
    this.ahead?.dropAll();
    // A member made meanwhile is disconnected once it runs, not while it connects (its sockets left open).
    await this.rejoining;
    await this.consumer.disconnect();
    await this.ahead?.idle();
  }
}

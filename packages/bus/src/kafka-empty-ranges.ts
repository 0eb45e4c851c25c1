// Offsets a Kafka fetch shows to hold no message to read: a transaction's commit or abort
// marker, an aborted transaction's records. A batch carries those before and after its
// messages (`Batch.fetchedFrom`, `Batch.fetchedTo`); a fetch that found only such offsets
// kafkajs hands no batch of, and is handed to `eachEmptyRange` instead (bus.md).
import type { Batch as KafkaJsBatch, Consumer as KafkaJsConsumer } from 'kafkajs';
import type { ConsumeOptions, EmptyRange } from './bus.ts';
import { DROPPED, type FetchAhead } from './fetch-ahead.ts';

/** What the consumer (kafka-consumer.ts) lends the empty-range handling. */
export interface EmptyRangeHost {
  /** Batches fetched and not yet handled, of the current kafkajs consumer. */
  ahead(): FetchAhead | undefined;
  /** The log's identity, when read since the last join. */
  knownLog(): string | undefined;
  /** The log's identity, read when not known. */
  currentLog(): Promise<string>;
  /** The offset this member last committed for the partition since it joined. */
  committed(partition: number): string | undefined;
  /** Commits `offset` for the partition; a refusal is logged, not thrown. */
  commitAfter(partition: number, offset: string): Promise<void>;
  stopped(): boolean;
  log?: (event: string, fields?: Record<string, string | number>) => void;
}

export class EmptyRanges {
  /**
   * Per partition, offsets the last batch kafkajs handed over showed to hold nothing to read
   * (from after its last message to where kafkajs fetches next: a commit marker, an aborted
   * transaction); a fetch that begins at `to` begins, for `Batch.fetchedFrom`, at `from`.
   */
  private readonly nothingBetween = new Map<number, { log: string; from: string; to: string }>();

  constructor(
    private readonly options: ConsumeOptions,
    private readonly host: EmptyRangeHost,
  ) {}

  /** At each join: kafkajs reads every partition again from its committed offset. */
  clear(): void {
    this.nothingBetween.clear();
  }

  /**
   * kafkajs hands no batch of a fetch that found only markers or aborted records: it resolves past
   * them and says so only in END_BATCH_PROCESS (a batch of no message). Without it, the last message
   * before a trailing marker was all a handler learned of the partition's end. Heard while `current()`.
   */
  listen(consumer: KafkaJsConsumer, current: () => boolean): void {
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      const { topic, partition, batchSize, firstOffset, lastOffset } = e.payload;
      if (!current() || this.host.stopped() || batchSize !== 0 || topic !== this.options.topic) return;
      // Null (not in kafkajs's types) when every record lay below the fetched offset: nothing to claim.
      if (typeof firstOffset === 'string') this.emptyFetch(partition, firstOffset, lastOffset);
    });
  }

  /**
   * Where the batch's fetch began, or where the fetch before it ended on offsets holding nothing to
   * read (kafkajs resolves a batch's last message past the commit marker after it, so the next
   * fetch begins after the marker, above the consumer's position: metering's); and where kafkajs
   * fetches next. Noted for the next batch.
   */
  span(batch: KafkaJsBatch, log: string): { fetchedFrom: string; through: string } {
    const { partition, messages } = batch;
    // Not in kafkajs's types (2.2): without it, the batch claims nothing before its first message.
    const fetchedOffset = (batch as KafkaJsBatch & { fetchedOffset?: unknown }).fetchedOffset;
    const fetched = typeof fetchedOffset === 'string' ? fetchedOffset : messages[0]!.offset;
    const before = this.nothingBetween.get(partition);
    const fetchedFrom = before?.log === log && before.to === fetched ? before.from : fetched;
    const after = (BigInt(messages[messages.length - 1]!.offset) + 1n).toString();
    const through = (BigInt(batch.lastOffset()) + 1n).toString();
    this.nothingBetween.set(partition, { log, from: after, to: through });
    return { fetchedFrom, through };
  }

  /**
   * A fetch of the partition that found offsets `first` to `last` holding no message: chained to
   * the offsets the batch before showed to hold none (so the next batch's `fetchedFrom` reaches back
   * to that batch's last message) and handed to `eachEmptyRange` behind the partition's batches.
   */
  private emptyFetch(partition: number, first: string, last: string): void {
    const ahead = this.host.ahead();
    if (!ahead) return;
    const before = this.nothingBetween.get(partition);
    const chained = before?.to === first ? before : undefined;
    const from = chained?.from ?? first;
    const to = (BigInt(last) + 1n).toString();
    // Known only when chained or once a batch read it since the join; else the next batch claims nothing before it.
    const known = chained?.log ?? this.host.knownLog();
    if (known !== undefined) this.nothingBetween.set(partition, { log: known, from, to });
    const { topic, eachEmptyRange: handler, autoCommit = true } = this.options;
    void ahead.queue(partition, async (current) => {
      const range: EmptyRange = { topic, partition, log: known ?? (await this.host.currentLog()), from, to };
      try {
        const handed = await ahead.slot(
          async () => handler?.(range),
          () => current() && !this.host.stopped(),
        );
        if (handed === DROPPED) return;
      } catch (err) {
        this.host.log?.('bus.empty_range_failed', { partition, from, to, error: (err as Error).message });
        return;
      }
      // The group's offset moves only over offsets known to hold no message: from one this member
      // committed within the range (never past a batch dropped or failed since, whose commit it
      // lacks), or from the partition's beginning.
      const done = this.host.committed(partition) ?? (from === '0' ? from : undefined);
      if (!autoCommit || done === undefined || BigInt(done) < BigInt(from) || BigInt(done) >= BigInt(to)) return;
      await this.host.commitAfter(partition, to);
    });
  }
}

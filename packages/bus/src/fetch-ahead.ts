// kafkajs fetches again only once every batch of its last fetch has been
// handed back, so the broker's answer and the decoding of the next fetch kept
// the handlers idle between fetches (metering's drain had no batch in its
// database about a tenth of the time). Batches are queued here instead, each
// behind its partition's earlier ones, and handled a few partitions at a time
// while kafkajs fetches the next ones: one fetch ahead, no more (the caller
// waits for a partition's previous batch before it takes another).

/** Work queued for one partition: runs while `current()` holds, else it was dropped. */
export type Work = (current: () => boolean) => Promise<void>;

export class FetchAhead {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  private readonly tails = new Map<number, Promise<void>>();
  private readonly epochs = new Map<number, number>();

  /** `failed`: what a queued work threw (it should not), so the queue goes on. */
  constructor(
    slots: number,
    private readonly failed: (partition: number, err: unknown) => void = () => {},
  ) {
    this.free = Math.max(1, slots);
  }

  /** The partition's epoch: a batch is queued with the one read when it was handed over, before any wait. */
  epoch(partition: number): number {
    return this.epochs.get(partition) ?? 0;
  }

  /**
   * Queues `work` behind the partition's earlier work; returns when that
   * earlier work is done (so a caller holds back the next fetch until then).
   * It runs only if no drop came since `epoch`.
   */
  queue(partition: number, work: Work, epoch = this.epoch(partition)): Promise<void> {
    const previous = this.tails.get(partition) ?? Promise.resolve();
    const current = () => this.epoch(partition) === epoch;
    const tail = previous.then(() => (current() ? work(current) : undefined)).catch((err: unknown) => this.failed(partition, err));
    this.tails.set(partition, tail);
    return previous;
  }

  /** Runs `handle` once fewer than `slots` handlers are running; first come, first served. */
  async slot<T>(handle: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await handle();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }

  /** Drops what is queued for the partition (what runs finishes): it will be fetched again. */
  drop(partition: number): void {
    this.epochs.set(partition, (this.epochs.get(partition) ?? 0) + 1);
  }

  /** Drops what is queued for every partition. */
  dropAll(): void {
    // Every partition dropped before was queued to first (handle() drops only its own).
    for (const partition of this.tails.keys()) this.drop(partition);
  }

  /** Resolves once nothing runs or waits. */
  async idle(): Promise<void> {
    await Promise.all(this.tails.values());
  }
}

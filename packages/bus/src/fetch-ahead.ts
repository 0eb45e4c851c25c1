// kafkajs fetches again only once every batch of its last fetch has been
// handed back, so the broker's answer and the decoding of the next fetch kept
// the handlers idle between fetches (metering's drain had no batch in its
// database about a tenth of the time). Batches are queued here instead, each
// behind its partition's earlier ones, and handled a few partitions at a time
// while kafkajs fetches the next ones: one fetch ahead, no more (the caller
// waits for a partition's previous batch before it takes another).

/** What `slot` answers for a handler it did not run: a drop came while it waited. */
export const DROPPED: unique symbol = Symbol('dropped');

/** Work queued for one partition: runs while `current()` holds, else it was dropped. */
export type Work = (current: () => boolean) => Promise<void>;

export class FetchAhead {
  private free: number;
  /** Handlers waiting for a slot: told true when given one, false when a drop came first. */
  private readonly waiting: { current: () => boolean; go: (granted: boolean) => void }[] = [];
  private readonly tails = new Map<number, Promise<void>>();
  private readonly epochs = new Map<number, number>();
  /** Bumped by dropAll: a partition never queued to (its first batch still reading the log's identity) is dropped too. */
  private generation = 0;

  /** `failed`: what a queued work threw (it should not), so the queue goes on. */
  constructor(
    slots: number,
    private readonly failed: (partition: number, err: unknown) => void = () => {},
  ) {
    this.free = Math.max(1, slots);
  }

  /**
   * The partition's epoch: a batch is queued with the one read when it was
   * handed over, before any wait. Both counts only grow, so any drop since
   * changes their sum.
   */
  epoch(partition: number): number {
    return this.generation + (this.epochs.get(partition) ?? 0);
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

  /**
   * Runs `handle` once fewer than `slots` handlers are running, first come,
   * first served, if `current()` still holds then; a drop while it waits
   * answers DROPPED at once, without running it or taking a slot (a handler
   * that hangs must not hold back the ones dropped behind it).
   */
  async slot<T>(handle: () => Promise<T>, current: () => boolean = () => true): Promise<T | typeof DROPPED> {
    if (this.free > 0) this.free--;
    else if (!(await new Promise<boolean>((go) => this.waiting.push({ current, go })))) return DROPPED;
    try {
      if (!current()) return DROPPED;
      return await handle();
    } finally {
      this.release();
    }
  }

  /**
   * A slot handed on to the first waiter (a drop answers its waiters at once, so
   * those left are current; one dropped since checks again in `slot` and hands it on).
   */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next.go(true);
    else this.free++;
  }

  /** Waiters dropped meanwhile are answered now, not when a slot frees. */
  private dropWaiting(): void {
    const waiting = this.waiting.splice(0);
    for (const w of waiting) {
      if (w.current()) this.waiting.push(w);
      else w.go(false);
    }
  }

  /** Drops what is queued for the partition (what runs finishes): it will be fetched again. */
  drop(partition: number): void {
    this.epochs.set(partition, (this.epochs.get(partition) ?? 0) + 1);
    this.dropWaiting();
  }

  /** Drops what is queued for every partition, and every batch handed over before (queued yet or not). */
  dropAll(): void {
    this.generation++;
    this.dropWaiting();
  }

  /** Resolves once nothing runs or waits. */
  async idle(): Promise<void> {
    await Promise.all(this.tails.values());
  }
}

// `vault publish`'s input, chunk by chunk: a read that may wait only so long (is the input
// live and paused?) and that a signal ends (Ctrl-C: stop reading, publish what was read).

/** Reading the input failed (an I/O error): `cause` is the error. */
export class InputReadError extends Error {}

export class InputChunks {
  private readonly iterator: AsyncIterator<Buffer | string>;
  private pending: Promise<IteratorResult<Buffer | string>> | undefined;
  private finished = false;
  private stoppedEarly = false;

  constructor(
    input: AsyncIterable<Buffer | string>,
    private readonly signal?: AbortSignal,
  ) {
    this.iterator = input[Symbol.asyncIterator]();
  }

  /** True once the input has ended, or was stopped by the signal. */
  get ended(): boolean {
    return this.finished;
  }

  /** True when the signal stopped the reading before the input's end. */
  get stopped(): boolean {
    return this.stoppedEarly;
  }

  /**
   * The next chunk; undefined at the end of the input or once the signal is aborted; 'idle'
   * when none came within `waitMs` (the read goes on, the next call gets its chunk).
   */
  async next(waitMs?: number): Promise<Buffer | undefined | 'idle'> {
    if (this.finished) return undefined;
    if (this.signal?.aborted) return this.stop();
    // An I/O error is the input's, told apart from the bus's or the database's.
    this.pending ??= this.iterator.next().catch((err: unknown) => {
      throw new InputReadError((err as Error).message, { cause: err });
    });
    const cleanup: (() => void)[] = [];
    const racers: Promise<IteratorResult<Buffer | string> | 'idle' | 'stop'>[] = [this.pending];
    if (waitMs !== undefined) {
      racers.push(
        new Promise((resolve) => {
          const timer = setTimeout(() => resolve('idle'), Math.max(0, waitMs));
          cleanup.push(() => clearTimeout(timer));
        }),
      );
    }
    const signal = this.signal;
    if (signal) {
      racers.push(
        new Promise((resolve) => {
          const onAbort = () => resolve('stop');
          signal.addEventListener('abort', onAbort, { once: true });
          cleanup.push(() => signal.removeEventListener('abort', onAbort));
        }),
      );
    }
    let read: IteratorResult<Buffer | string> | 'idle' | 'stop';
    try {
      read = await Promise.race(racers);
    } finally {
      for (const undo of cleanup) undo();
    }
    if (read === 'idle') return 'idle';
    if (read === 'stop') return this.stop();
    this.pending = undefined;
    if (read.done) {
      this.finished = true;
      return undefined;
    }
    return Buffer.isBuffer(read.value) ? read.value : Buffer.from(read.value);
  }

  /** Stopped by the signal: the read under way is left (its stream is destroyed by the caller), its error ignored. */
  private stop(): undefined {
    this.finished = true;
    this.stoppedEarly = true;
    this.pending?.catch(() => {});
    this.pending = undefined;
    return undefined;
  }
}

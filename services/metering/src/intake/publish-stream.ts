import { formatReasons, tooLongReason, type IntakeRejection } from '@vault/contracts';
import { intake, type IntakeDeps, type IntakeLine } from './intake.ts';
import { NdjsonSplitter, type PublishItem, type Splitter } from './publish-items.ts';

/** The events topic's partitions and options when a publisher creates it before metering first starts. */
export { DEFAULT_PARTITIONS, EVENTS_TOPIC_OPTIONS } from '../consumer/consume.ts';
export { NdjsonSplitter, type PublishItem, type Splitter } from './publish-items.ts';

/** Counts only: a stream of millions of rejected lines must not be held (onRejected hands each chunk's on). */
export interface PublishSummary {
  lines: number;
  accepted: number;
  duplicates: number;
  rejected: number;
}

/**
 * How long the input may pause before what was read is published: live input (a pipe
 * held open) is not held back waiting for a whole chunk. Files and fast pipes never pause.
 */
export const IDLE_FLUSH_MS = 250;
/** The longest a line waits for its chunk however steadily the input arrives (a slow steady stream still batches). */
export const MAX_HOLD_MS = 1_000;

export interface PublishStreamOptions {
  /** Lines per durable publish; memory is bounded by it. */
  chunkLines?: number;
  /** IDLE_FLUSH_MS unless set. */
  idleMs?: number;
  /** MAX_HOLD_MS unless set. */
  maxHoldMs?: number;
  /** How the input is split into events: NDJSON lines unless set. */
  split?: Splitter;
  /**
   * Aborted (Ctrl-C), the input is expected to end (its reader stops it): what was read
   * whole is published, a line begun and not ended is not (`split.unfinished()` says its size).
   */
  signal?: AbortSignal;
  /**
   * Whether the input ended because the signal stopped its reading (its reader knows), not at its
   * own end: the writer killed by the same Ctrl-C ends the input first, and its last line cut short
   * is then judged and refused, not dropped unsaid. The signal's state unless given.
   */
  cutShort?(): boolean;
  /** Called after each chunk is durable on the bus. */
  onProgress?(summary: PublishSummary): void;
  /**
   * Each chunk's rejections, in input order, once that chunk is durable on the bus
   * (before onProgress); none are kept. The next chunk waits for its promise: a slow
   * reader of what it prints holds the input back, not memory.
   */
  onRejected?(rejected: IntakeRejection[]): void | Promise<void>;
}

type Read = IteratorResult<Buffer | string> | 'idle';

/**
 * `vault publish`: NDJSON from a stream onto the bus, chunk by chunk, each
 * chunk durable before the next is read (backpressure). A chunk is sent at
 * `chunkLines` lines, when the input pauses (`idleMs`), after `maxHoldMs` at
 * the latest, and at the end. Duplicates are judged across the whole stream,
 * not only within a chunk: each chunk's keys are claimed before the next
 * chunk is read.
 */
export async function publishStream(
  deps: IntakeDeps,
  input: AsyncIterable<Buffer | string>,
  o: PublishStreamOptions = {},
): Promise<PublishSummary> {
  const chunkLines = o.chunkLines ?? 5_000;
  const idleMs = o.idleMs ?? IDLE_FLUSH_MS;
  const maxHoldMs = o.maxHoldMs ?? MAX_HOLD_MS;
  const summary: PublishSummary = { lines: 0, accepted: 0, duplicates: 0, rejected: 0 };
  const split = o.split ?? new NdjsonSplitter();
  let pending: IntakeLine[] = [];
  // Items refused before the intake (over 64 KiB, as the intake refuses them; brackets that do not
  // match): never published, reported with the chunk; their id is not read.
  let refused: IntakeRejection[] = [];
  let heldSince = 0;

  const take = (items: PublishItem[]) => {
    if (items.length > 0 && pending.length + refused.length === 0) heldSince = performance.now();
    for (const item of items) {
      if ('bytes' in item) pending.push(item);
      else {
        const reason = 'refused' in item ? item.refused : tooLongReason(item.tooLong);
        refused.push({ index: item.index, id: null, reason: formatReasons([reason]), reasons: [reason] });
      }
    }
  };
  const flush = async () => {
    if (pending.length === 0 && refused.length === 0) return;
    const report = pending.length > 0 ? await intake(deps, pending) : { accepted: 0, duplicates: 0, rejected: [] };
    summary.lines += pending.length + refused.length;
    summary.accepted += report.accepted;
    summary.duplicates += report.duplicates;
    const rejected = [...report.rejected, ...refused].sort((a, b) => a.index - b.index);
    summary.rejected += rejected.length;
    pending = [];
    refused = [];
    if (rejected.length > 0) await o.onRejected?.(rejected);
    o.onProgress?.(summary);
  };

  const iterator = input[Symbol.asyncIterator]();
  let next: Promise<IteratorResult<Buffer | string>> | undefined;
  for (;;) {
    next ??= iterator.next();
    const read = await readOrIdle(
      next,
      pending.length + refused.length > 0 ? Math.min(idleMs, heldSince + maxHoldMs - performance.now()) : undefined,
    );
    if (read === 'idle') {
      // The read goes on: `next` is awaited again once the chunk so far is on the bus.
      await flush();
      continue;
    }
    next = undefined;
    if (read.done) break;
    take(split.push(Buffer.isBuffer(read.value) ? read.value : Buffer.from(read.value)));
    if (pending.length + refused.length >= chunkLines) await flush();
  }
  // Stopped part-way, the last line may be cut short: it is not published.
  if (!(o.cutShort?.() ?? o.signal?.aborted === true)) take(split.end());
  await flush();
  return summary;
}

/** The next read, or 'idle' when none came within `waitMs` (none given: as long as it takes). */
async function readOrIdle(next: Promise<IteratorResult<Buffer | string>>, waitMs: number | undefined): Promise<Read> {
  if (waitMs === undefined) return next;
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<'idle'>((resolve) => {
    timer = setTimeout(() => resolve('idle'), Math.max(0, waitMs));
  });
  try {
    return await Promise.race([next, idle]);
  } finally {
    clearTimeout(timer);
  }
}

import type { Readable } from 'node:stream';
import { formatReasons, tooLongReason, type IntakeRejection } from '@vault/contracts';
import { intake, type IntakeDeps, type IntakeLine } from './intake.ts';
import { StreamLines, type StreamLine } from './stream-lines.ts';

/** The events topic's partitions when a publisher creates it before metering first starts. */
export { DEFAULT_PARTITIONS } from '../consumer/consume.ts';

/** Counts only: a stream of millions of rejected lines must not be held (onRejected hands each chunk's on). */
export interface PublishSummary {
  lines: number;
  accepted: number;
  duplicates: number;
  rejected: number;
}

export interface PublishStreamOptions {
  /** Lines per durable publish; memory is bounded by it. */
  chunkLines?: number;
  /** Called after each chunk is durable on the bus. */
  onProgress?(summary: PublishSummary): void;
  /**
   * Each chunk's rejections, in input order, once that chunk is durable on the bus
   * (before onProgress); none are kept. The next chunk waits for its promise: a slow
   * reader of what it prints holds the input back, not memory.
   */
  onRejected?(rejected: IntakeRejection[]): void | Promise<void>;
}

/**
 * `vault publish`: NDJSON from a stream onto the bus, chunk by chunk, each
 * chunk durable before the next is read (backpressure). Duplicates are judged
 * across the whole stream, not only within a chunk: each chunk's keys are
 * claimed before the next chunk is read.
 */
export async function publishStream(deps: IntakeDeps, input: Readable, o: PublishStreamOptions = {}): Promise<PublishSummary> {
  const chunkLines = o.chunkLines ?? 5_000;
  const summary: PublishSummary = { lines: 0, accepted: 0, duplicates: 0, rejected: 0 };
  const reader = new StreamLines();
  let pending: IntakeLine[] = [];
  // Lines over 64 KiB, refused here as the intake refuses them (never published), with the
  // intake's reason; their id is not read, as their bytes were not all held.
  let tooLong: IntakeRejection[] = [];

  const take = (lines: StreamLine[]) => {
    for (const line of lines) {
      if ('bytes' in line) {
        pending.push(line);
        continue;
      }
      const reason = tooLongReason(line.tooLong);
      tooLong.push({ index: line.index, id: null, reason: formatReasons([reason]), reasons: [reason] });
    }
  };
  const flush = async () => {
    if (pending.length === 0 && tooLong.length === 0) return;
    const report = pending.length > 0 ? await intake(deps, pending) : { accepted: 0, duplicates: 0, rejected: [] };
    summary.lines += pending.length + tooLong.length;
    summary.accepted += report.accepted;
    summary.duplicates += report.duplicates;
    const rejected = [...report.rejected, ...tooLong].sort((a, b) => a.index - b.index);
    summary.rejected += rejected.length;
    pending = [];
    tooLong = [];
    if (rejected.length > 0) await o.onRejected?.(rejected);
    o.onProgress?.(summary);
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    take(reader.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)));
    if (pending.length + tooLong.length >= chunkLines) await flush();
  }
  take(reader.end());
  await flush();
  return summary;
}

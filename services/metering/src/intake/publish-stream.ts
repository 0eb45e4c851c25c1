import type { Readable } from 'node:stream';
import type { IntakeRejection } from '@vault/contracts';
import { intake, ndjsonLines, type IntakeDeps, type IntakeLine } from './intake.ts';

/** The events topic's partitions when a publisher creates it before metering first starts. */
export { DEFAULT_PARTITIONS } from '../consumer/consume.ts';

export interface PublishSummary {
  lines: number;
  accepted: number;
  duplicates: number;
  rejected: IntakeRejection[];
}

export interface PublishStreamOptions {
  /** Lines per durable publish; memory is bounded by it. */
  chunkLines?: number;
  /** Called after each chunk is durable on the bus. */
  onProgress?(summary: PublishSummary): void;
}

/**
 * `vault publish`: NDJSON from a stream onto the bus, chunk by chunk, each
 * chunk durable before the next is read (backpressure). Duplicates are judged
 * across the whole stream, not only within a chunk: each chunk's keys are
 * claimed before the next chunk is read.
 */
export async function publishStream(deps: IntakeDeps, input: Readable, o: PublishStreamOptions = {}): Promise<PublishSummary> {
  const chunkLines = o.chunkLines ?? 5_000;
  const summary: PublishSummary = { lines: 0, accepted: 0, duplicates: 0, rejected: [] };
  let pending: IntakeLine[] = [];
  let index = 0;
  let rest: Buffer = Buffer.alloc(0);

  const flush = async () => {
    if (pending.length === 0) return;
    const report = await intake(deps, pending);
    summary.lines += pending.length;
    summary.accepted += report.accepted;
    summary.duplicates += report.duplicates;
    summary.rejected.push(...report.rejected);
    pending = [];
    o.onProgress?.(summary);
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = Buffer.concat([rest, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)]);
    const last = buf.lastIndexOf(0x0a);
    if (last === -1) {
      rest = buf;
      continue;
    }
    // Complete lines only; the partial last one waits for the next chunk.
    const complete = ndjsonLines(buf.subarray(0, last), index);
    pending.push(...complete.lines);
    index = complete.nextIndex;
    rest = Buffer.from(buf.subarray(last + 1));
    if (pending.length >= chunkLines) await flush();
  }
  if (rest.length > 0) pending.push(...ndjsonLines(rest, index).lines);
  await flush();
  return summary;
}

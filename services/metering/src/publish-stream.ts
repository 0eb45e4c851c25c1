import type { Readable } from 'node:stream';
import type { IntakeRejection } from '@vault/contracts';
import { intake, type IntakeDeps, type IntakeLine } from './intake.ts';

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
 * across the whole stream, not only within a chunk.
 */
export async function publishStream(deps: IntakeDeps, input: Readable, o: PublishStreamOptions = {}): Promise<PublishSummary> {
  const chunkLines = o.chunkLines ?? 5_000;
  const summary: PublishSummary = { lines: 0, accepted: 0, duplicates: 0, rejected: [] };
  const seen = new Map<string, string>();
  let pending: IntakeLine[] = [];
  let index = 0;
  let rest: Buffer = Buffer.alloc(0);

  const flush = async () => {
    if (pending.length === 0) return;
    const report = await intake(deps, pending, seen);
    summary.lines += pending.length;
    summary.accepted += report.accepted;
    summary.duplicates += report.duplicates;
    summary.rejected.push(...report.rejected);
    pending = [];
    o.onProgress?.(summary);
  };
  const take = (line: Buffer) => {
    const trimmed = line.at(-1) === 0x0d ? line.subarray(0, -1) : line;
    if (trimmed.toString('utf8').trim() !== '') pending.push({ index, bytes: Buffer.from(trimmed) });
    index++;
  };

  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    let buf = Buffer.concat([rest, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)]);
    let nl: number;
    while ((nl = buf.indexOf(0x0a)) !== -1) {
      take(buf.subarray(0, nl));
      buf = buf.subarray(nl + 1);
      if (pending.length >= chunkLines) await flush();
    }
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) take(rest);
  await flush();
  return summary;
}

import type pg from 'pg';
import type { Bus, OutgoingMessage } from '@vault/bus';
import { formatReasons, ID_REUSED_REASON, MAX_EVENT_BYTES, type IntakeRejection, type IntakeReport } from '@vault/contracts';
import { verdict } from '../domain/content-hash.ts';
import { clean, judge, type InvalidInput, type ValidInput } from '../domain/judge.ts';
import { eventKey, storedHashes } from '../consumer/stored-hashes.ts';

export interface IntakeLine {
  /** 0-based position in the body or file, echoed in rejections. */
  index: number;
  bytes: Buffer;
}

export interface IntakeDeps {
  bus: Bus;
  pool: pg.Pool;
  topic: string;
}

export interface Assessment {
  report: IntakeReport;
  /** Every line, as received, keyed by its subject: what `intake` publishes. */
  messages: OutgoingMessage[];
}

/**
 * The intake's own reading of some lines, against what is already stored and
 * what this request (or, for a file, its earlier chunks in `seen`) carried.
 * Publishes nothing.
 */
export async function assess(
  pool: pg.Pool,
  lines: IntakeLine[],
  seen: Map<string, string> = new Map(),
  nowMs = Date.now(),
): Promise<Assessment> {
  const judged = lines.map((line) => ({ line, ...judgeOne(line, nowMs) }));
  const stored = await storedHashes(
    pool,
    judged.flatMap((j) => (j.valid ? [j.valid.event] : [])),
  );
  const report: IntakeReport = { accepted: 0, duplicates: 0, rejected: [] };
  const messages: OutgoingMessage[] = [];
  for (const { line, valid: v, invalid } of judged) {
    if (v) {
      const k = eventKey(v.event);
      const judgement = verdict(stored.get(k) ?? seen.get(k), v.contentHash);
      if (judgement === 'new') {
        report.accepted++;
        seen.set(k, v.contentHash);
      } else if (judgement === 'duplicate') report.duplicates++;
      else report.rejected.push(rejection(line.index, v.event.id, [ID_REUSED_REASON]));
      messages.push({ key: v.event.subject, value: line.bytes });
    } else if (invalid) {
      report.rejected.push(rejection(line.index, invalid.eventId ?? null, invalid.reasons));
      // A line over 64 KiB is refused here, in the answer, and never published:
      // the bus has a message size limit of its own, and nothing that big is kept.
      if (line.bytes.length > MAX_EVENT_BYTES) continue;
      // A bad line still goes to its subject's partition when it names one.
      messages.push({ key: clean(invalid.subject ?? ''), value: line.bytes });
    }
  }
  return { report, messages };
}

/**
 * HTTP and `vault publish` intake. Every line goes onto the bus exactly as
 * received, valid or not (but one over 64 KiB, only reported): the consumer is the one judge, so both paths have
 * precisely the Kafka path's effect (a bad line is kept as a rejection there,
 * a duplicate is counted there). The report is `assess`'s; it resolves once
 * the publish is durable.
 */
export async function intake(deps: IntakeDeps, lines: IntakeLine[], seen: Map<string, string> = new Map()): Promise<IntakeReport> {
  const { report, messages } = await assess(deps.pool, lines, seen);
  await deps.bus.publish(deps.topic, messages);
  return report;
}

function judgeOne(line: IntakeLine, nowMs: number): { valid?: ValidInput; invalid?: InvalidInput } {
  const { valid, invalid } = judge([{ bytes: line.bytes, receivedAtMs: nowMs }], nowMs);
  return valid[0] ? { valid: valid[0] } : { invalid: invalid[0]! };
}

function rejection(index: number, id: string | null, reasons: InvalidInput['reasons']): IntakeRejection {
  return { index, id, reason: formatReasons(reasons), reasons };
}

/**
 * Splits a request body into lines: a JSON array's elements, or NDJSON lines
 * (blank lines skipped, but counted, so `index + 1` is the line number).
 * Throws only when a body that opens as an array is not valid JSON.
 */
export function splitBody(body: Buffer): IntakeLine[] {
  const text = body.toString('utf8');
  if (text.trimStart().startsWith('[')) {
    const items: unknown = JSON.parse(text);
    if (!Array.isArray(items)) throw new SyntaxError('body must be a JSON array of events or NDJSON');
    return items.map((item, index) => ({ index, bytes: Buffer.from(JSON.stringify(item) ?? 'null') }));
  }
  return ndjsonLines(body, 0).lines;
}

/**
 * NDJSON lines of a chunk, with their 0-based line index from `firstIndex`
 * (blank lines skipped but counted); `nextIndex` is the index of the line
 * after the chunk's last.
 */
export function ndjsonLines(chunk: Buffer, firstIndex: number): { lines: IntakeLine[]; nextIndex: number } {
  const lines: IntakeLine[] = [];
  let start = 0;
  let index = firstIndex;
  while (start <= chunk.length) {
    let end = chunk.indexOf(0x0a, start);
    if (end === -1) end = chunk.length;
    let line = chunk.subarray(start, end);
    if (line.at(-1) === 0x0d) line = line.subarray(0, -1);
    if (line.toString('utf8').trim() !== '') lines.push({ index, bytes: Buffer.from(line) });
    index++;
    start = end + 1;
  }
  return { lines, nextIndex: index };
}

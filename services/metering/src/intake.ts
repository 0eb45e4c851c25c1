import type pg from 'pg';
import type { Bus, OutgoingMessage } from '@vault/bus';
import { formatReasons, ID_REUSED_REASON, type IntakeRejection, type IntakeReport } from '@vault/contracts';
import { judge, type InvalidInput, type ValidInput } from './domain/judge.ts';
import { eventKey, storedHashes } from './store/stored-hashes.ts';

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

/**
 * HTTP and `vault publish` intake. Every line goes onto the bus exactly as
 * received, valid or not: the consumer is the one judge, so both paths have
 * precisely the Kafka path's effect (a bad line is kept as a rejection there,
 * a duplicate is counted there). The report is the intake's own reading of the
 * lines, against what is already stored and what this request (or, for a
 * file, its earlier chunks in `seen`) carried; it resolves once the publish
 * is durable.
 */
export async function intake(
  deps: IntakeDeps,
  lines: IntakeLine[],
  seen: Map<string, string> = new Map(),
  nowMs = Date.now(),
  opts: { dryRun?: boolean } = {},
): Promise<IntakeReport> {
  const judged = lines.map((line) => ({ line, ...judgeOne(line, nowMs) }));
  const valid = judged.flatMap((j) => (j.valid ? [j.valid] : []));
  const stored = await storedHashes(deps.pool, valid.map((v) => v.event));

  const report: IntakeReport = { accepted: 0, duplicates: 0, rejected: [] };
  const messages: OutgoingMessage[] = [];
  for (const { line, valid: v, invalid } of judged) {
    if (v) {
      const k = eventKey(v.event);
      const earlier = seen.get(k) ?? stored.get(k);
      if (earlier === undefined) {
        report.accepted++;
        seen.set(k, v.contentHash);
      } else if (earlier === v.contentHash) report.duplicates++;
      else report.rejected.push(rejection(line.index, v.event.id, [ID_REUSED_REASON]));
      messages.push({ key: v.event.subject, value: line.bytes });
    } else if (invalid) {
      report.rejected.push(rejection(line.index, invalid.eventId ?? null, invalid.reasons));
      messages.push({ key: subjectOf(line.bytes), value: line.bytes });
    }
  }
  if (!opts.dryRun) await deps.bus.publish(deps.topic, messages);
  return report;
}

function judgeOne(line: IntakeLine, nowMs: number): { valid?: ValidInput; invalid?: InvalidInput } {
  const { valid, invalid } = judge([{ bytes: line.bytes, receivedAtMs: nowMs }], nowMs);
  return valid[0] ? { valid: valid[0] } : { invalid: invalid[0]! };
}

function rejection(index: number, id: string | null, reasons: InvalidInput['reasons']): IntakeRejection {
  return { index, id, reason: formatReasons(reasons), reasons };
}

/** A bad line still goes to its subject's partition when it names one. */
function subjectOf(bytes: Buffer): string {
  try {
    const subject = (JSON.parse(bytes.toString('utf8')) as { subject?: unknown }).subject;
    return typeof subject === 'string' ? subject : '';
  } catch {
    return '';
  }
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
  return ndjsonLines(body, 0);
}

/** NDJSON lines of a chunk, with their 0-based line index from `firstIndex`. */
export function ndjsonLines(chunk: Buffer, firstIndex: number): IntakeLine[] {
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
  return lines;
}

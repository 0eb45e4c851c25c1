import type pg from 'pg';
import type { Bus, OutgoingMessage } from '@vault/bus';
import type { Logger } from '@vault/runtime';
import {
  formatReasons,
  ID_REUSED_REASON,
  MAX_EVENT_BYTES,
  type BillingEvent,
  type IntakeRejection,
  type IntakeReport,
} from '@vault/contracts';
import { asSentHash, verdict } from '../domain/content-hash.ts';
import { clean, judge, type InvalidInput, type ValidInput } from '../domain/judge.ts';
import { archiveBounds, eventKey, storedHashes } from '../consumer/stored-hashes.ts';
import { storeRefusal } from '../consumer/usage-horizon.ts';
import { claimKeys } from './claims.ts';
import { publishDurable } from './publish-deadline.ts';
import { afterPublish } from './published-unsettled.ts';

export interface IntakeLine {
  /** 0-based position in the body or file, echoed in rejections. */
  index: number;
  bytes: Buffer;
}

export interface IntakeDeps {
  bus: Bus;
  pool: pg.Pool;
  /**
   * Where the statements after a durable publish run (the key claims, a re-submit's resolve): the
   * app's main pool, without DATABASE_STATEMENT_TIMEOUT_MS. The events are on the bus then and will
   * be applied and billed, so a cancel there must not answer "try again" as if nothing was taken;
   * those statements are short, and waiting out a lock keeps the answer's counts right. Unset: `pool`.
   */
  afterPublishPool?: pg.Pool;
  topic: string;
  /** The HTTP door's wait for the bus to acknowledge a publish (publish-deadline.ts); unset, as long as the bus takes. */
  publishWithinMs?: number;
  log?: Logger;
}

export interface Assessment {
  /** What is known before the publish: stored duplicates and reuses, refused lines. */
  report: IntakeReport;
  /** Every line, as received, keyed by its subject: what `intake` publishes. */
  messages: OutgoingMessage[];
  /** Valid events not stored yet, in line order: their verdict is the claims' (`settle`). */
  pending: Pending[];
}

interface Pending {
  index: number;
  event: BillingEvent;
  contentHash: string;
}

/**
 * The intake's own reading of some lines, against what is already stored.
 * Publishes nothing; the events not stored yet wait in `pending` for `settle`.
 */
export async function assess(pool: pg.Pool, lines: IntakeLine[], nowMs = Date.now()): Promise<Assessment> {
  const judged = lines.map((line) => ({ line, ...judgeOne(line, nowMs) }));
  const stored = await storedHashes(
    pool,
    judged.flatMap((j) => (j.valid ? [j.valid.event] : [])),
  );
  // What the store would refuse of the new ones (an archived subject's past, a time before the usage
  // horizon) is answered as rejected now; it is still published, so the consumer keeps it as a rejection.
  const bounds = await archiveBounds(
    pool,
    judged.flatMap((j) => (j.valid && !stored.has(eventKey(j.valid.event)) ? [j.valid.event.subject] : [])),
  );
  const report: IntakeReport = { accepted: 0, duplicates: 0, rejected: [] };
  const messages: OutgoingMessage[] = [];
  const pending: Pending[] = [];
  for (const { line, valid: v, invalid } of judged) {
    if (v) {
      const earlier = stored.get(eventKey(v.event));
      const refused = earlier === undefined ? storeRefusal(v.event, bounds) : undefined;
      if (refused) report.rejected.push(rejection(line.index, v.event.id, [refused]));
      else if (earlier === undefined) pending.push({ index: line.index, event: v.event, contentHash: v.contentHash });
      else if (verdict(earlier, v) === 'duplicate') report.duplicates++;
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
  return { report, messages, pending };
}

/**
 * The answer, once the publish is durable: each pending key is claimed
 * (claims.ts). The first line of a key that this answer claimed is accepted;
 * every other line is compared with the claimed content, as the consumer
 * compares it with the first event of the key it stores: a duplicate, or a reuse.
 */
export async function settle(pool: pg.Pool, assessment: Assessment): Promise<IntakeReport> {
  const report: IntakeReport = { ...assessment.report, rejected: [...assessment.report.rejected] };
  const firsts = new Map<string, number>();
  const candidates: Pending[] = [];
  for (const p of assessment.pending) {
    const k = eventKey(p.event);
    if (firsts.has(k)) continue;
    firsts.set(k, candidates.length);
    candidates.push(p);
  }
  const claims = await claimKeys(
    pool,
    candidates.map((c) => ({ source: c.event.source, id: c.event.id, contentHash: c.contentHash, asSentHash: asSentHash(c.event) })),
  );
  for (const p of assessment.pending) {
    const at = firsts.get(eventKey(p.event))!;
    const claim = claims[at]!;
    if (candidates[at] === p && claim.ours) report.accepted++;
    else if (verdict(claim.contentHash, p) === 'duplicate') report.duplicates++;
    else report.rejected.push(rejection(p.index, p.event.id, [ID_REUSED_REASON]));
  }
  report.rejected.sort((a, b) => a.index - b.index);
  return report;
}

/**
 * HTTP and `vault publish` intake. Every line goes onto the bus exactly as
 * received, valid or not (but one over 64 KiB, only reported): the consumer is
 * the one judge, so both paths have precisely the Kafka path's effect (a bad
 * line is kept as a rejection there, a duplicate is counted there). The
 * report is `settle`'s, once the publish is durable; a PublishedUnsettled
 * when anything fails while counting it (published-unsettled.ts).
 */
export async function intake(deps: IntakeDeps, lines: IntakeLine[]): Promise<IntakeReport> {
  const assessment = await assess(deps.pool, lines);
  await publishDurable(deps, assessment.messages);
  // On the bus now: any failure of the claims is a PublishedUnsettled (published: true), never "try again" or a 500.
  return afterPublish(assessment.messages.length, () => settle(deps.afterPublishPool ?? deps.pool, assessment));
}

function judgeOne(line: IntakeLine, nowMs: number): { valid?: ValidInput; invalid?: InvalidInput } {
  const { valid, invalid } = judge([{ bytes: line.bytes, receivedAtMs: nowMs }], nowMs);
  return valid[0] ? { valid: valid[0] } : { invalid: invalid[0]! };
}

function rejection(index: number, id: string | null, reasons: InvalidInput['reasons']): IntakeRejection {
  return { index, id, reason: formatReasons(reasons), reasons };
}

/**
 * NDJSON lines of a chunk, with their 0-based line index from `firstIndex`
 * (blank lines skipped but counted); `nextIndex` is the index of the line
 * after the chunk's last. With `max`, it stops once it holds `max + 1` lines
 * (enough to tell a body over the limit without splitting all of it).
 */
export function ndjsonLines(chunk: Buffer, firstIndex: number, max = Number.POSITIVE_INFINITY): { lines: IntakeLine[]; nextIndex: number } {
  const lines: IntakeLine[] = [];
  let start = 0;
  let index = firstIndex;
  while (start <= chunk.length && lines.length <= max) {
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

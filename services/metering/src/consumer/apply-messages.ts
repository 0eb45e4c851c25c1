import type pg from 'pg';
import { withTransaction, type TransactionLog } from '@vault/db';
import type { Batch, IncomingMessage } from '@vault/bus';
import type { Reason } from '@vault/contracts';
import { clean, judge, type InvalidInput, type Judged, type Received, type ValidInput } from '../domain/judge.ts';
import { refuseClaims } from '../intake/claims.ts';
import { kafkaValue } from '../domain/kafka-headers.ts';
import { applyBatch, lockSubjects, type BatchResult } from './apply-batch.ts';
import { lockPosition, logStartFor, noteContact, storePosition, type Contact, type ContactNote } from './log-position.ts';
import { addMessageCounts, mergeOutcomes, readBySource } from './message-counts.ts';
import { ensureEventMonths } from './event-months.ts';
import { noteReplayEnd } from './empty-offsets.ts';
import { bounded, transactionBound, type TransactionBound } from './transaction-bound.ts';

export interface MessagesResult extends BatchResult {
  /** Messages already applied by an earlier pass (their bus commit was lost). */
  skipped: number;
  /** True when the batch had to be applied event by event to isolate one the store refused. */
  isolated: boolean;
  /** Set when nothing was applied: the bus must read the partition again from this offset. */
  readFrom?: string;
  /** Why the stored position was started again at 0 in the batch's log, or resumed where metering left it (log-position.ts). */
  change?: string;
  /** What was done about `change`: read again from the start, or resumed (log-position.ts). */
  action?: string;
  /** Messages between the position and the batch that the log no longer holds. */
  hole?: string;
  /** The offset of the message last applied, which the log no longer holds (compacted): only the log's id was checked. */
  anchorGone?: string;
}

/**
 * One bus batch, exactly once: the partition's position row is locked and
 * checked against the batch's log (log-position.ts), the messages before it
 * skipped, the rest applied, and the new position written, all in one
 * transaction. The bus commit that follows is only an optimisation:
 * if it is lost, the replay finds its messages behind the position. Locks are
 * taken in one order: the position row, the subjects (sorted), event keys
 * (sorted), the rejections' lock (REJECTIONS_LOCK, one for every partition:
 * taken after all event keys, even when isolating, and nothing after it waits
 * on another batch), rejections (sorted), refused events' claims (sorted), the
 * partition's own counts per source, the position's update; a deadlock all
 * the same is retried whole by withTransaction. The transaction is bounded
 * (transaction-bound.ts): cut at the limit and refused at its commit past it,
 * so usage never commits long after the learned_at it carries (its start). A re-submit's resolve
 * (markResolved, store.ts) takes the rejections' lock, then its row, and
 * reads the claim unlocked: the same order, so it waits for a batch that keeps
 * rejections and never the other way round.
 */
export async function applyMessages(
  pool: pg.Pool,
  batch: Batch,
  nowMs = Date.now(),
  log?: TransactionLog,
  contact?: Contact,
  /** The consumer's, found at its start (startConsumer); else this server's with the default limit. */
  bound?: TransactionBound,
): Promise<MessagesResult> {
  await ensureEventMonths(pool);
  const limit = bound ?? (await transactionBound(pool));
  // A call to the bus, made before the transaction takes the partition's position lock.
  const logStart = await logStartFor(contact, batch);
  // What the committed attempt taught the contact (a rolled-back one teaches nothing).
  let note: ContactNote | undefined;
  const outcome = await withTransaction(
    pool,
    bounded(limit, async (client) => {
      const verdict = await lockPosition(client, batch, contact, logStart);
      note = verdict.note;
      const change = verdict.change === undefined ? {} : { change: verdict.change, ...(verdict.action ? { action: verdict.action } : {}) };
      if (verdict.kind === 'read_from') return { ...nothingApplied(), skipped: 0, isolated: false, readFrom: verdict.offset, ...change };
      const position = verdict.position;
      const fresh = batch.messages.filter((m) => BigInt(m.offset) >= position);
      const skipped = batch.messages.length - fresh.length;
      const hole = verdict.hole === undefined ? {} : { hole: verdict.hole.toString() };
      const gone = verdict.anchorGone === undefined ? {} : { anchorGone: verdict.anchorGone.toString() };
      if (fresh.length === 0) {
        await noteReplayEnd(client, batch, position);
        return { ...nothingApplied(), skipped, isolated: false, ...change, ...gone };
      }
      const judged = judge(
        fresh.map((m) => new BusReceived(m)),
        nowMs,
      );
      const result = await applyRefusing(client, judged);
      await addMessageCounts(client, batch, readBySource(judged), result.bySource);
      await storePosition(client, batch, fresh[fresh.length - 1]!);
      return { ...result, skipped, ...change, ...hole, ...gone };
    }),
    { log, name: 'metering.apply' },
  );
  noteContact(contact, batch.partition, note);
  return outcome;
}

/**
 * A bus message as judged. Its position's text is made only when a rejection
 * names it: a string per message would otherwise live as long as the batch.
 */
export class BusReceived implements Received {
  readonly bytes: Buffer;
  readonly receivedAtMs: number;
  readonly unreadable?: Reason[];
  constructor(private readonly message: IncomingMessage) {
    const value = kafkaValue(message.value, message.headers, message.nonTextHeaders);
    this.bytes = value.bytes;
    if (value.unreadable) this.unreadable = value.unreadable;
    this.receivedAtMs = message.timestamp;
  }
  get position(): string {
    return `${this.message.topic}/${this.message.partition}/${this.message.offset}`;
  }
}

/**
 * Applies the batch whole; if the store refuses it (a data or constraint
 * error, which retrying can never cure) it is applied event by event, and the
 * events refused alone are rejected: a poison message never stops the consumer.
 * A refusal by the event keys' unique index (an id of another subject's event,
 * not looked up by key) first gets one more whole try, every key looked up.
 * The intake's claims of the refused events are marked refused in the same
 * transaction (claims.ts), so a fix with their id is no longer answered "reused".
 * Every valid event the store refused is marked, its rejection newly kept or a
 * duplicate of kept bytes (bytes kept first for another reason, re-submitted as
 * they were): a re-submit then leaves its row pending (markResolved).
 * Marking again is harmless: refuseClaims only sets `refused` on the same content.
 */
export async function applyRefusing(client: pg.PoolClient, judged: Judged): Promise<BatchResult & { isolated: boolean }> {
  const refused: ValidInput[] = [];
  const result = await applyOrIsolate(client, judged, refused);
  // Those refused by the archive or the horizon, newly kept or duplicates of kept bytes.
  refused.push(...result.storeRefused);
  await refuseClaims(client, refused);
  return result;
}

async function applyOrIsolate(
  client: pg.PoolClient,
  judged: Judged,
  refusedEvents: ValidInput[],
): Promise<BatchResult & { isolated: boolean }> {
  await client.query('savepoint whole_batch');
  try {
    return { ...(await applyBatch(client, judged)), isolated: false };
  } catch (err) {
    if (!isStoreRefusal(err)) throw err;
    await client.query('rollback to savepoint whole_batch');
    // An id of another subject's event, reused (applyBatch): whole again, every key looked up.
    if (isKeyTaken(err)) {
      try {
        return { ...(await applyBatch(client, judged, true)), isolated: false };
      } catch (again) {
        if (!isStoreRefusal(again)) throw again;
        await client.query('rollback to savepoint whole_batch');
      }
    }
  }
  // The rollback released the subject locks: take them all again, sorted, before
  // the events one by one would take them in arrival order.
  await lockSubjects(
    client,
    judged.valid.map((v) => v.event.subject),
  );
  const total = nothingApplied();
  const refused: InvalidInput[] = [];
  // Kept last: the rejections' lock must not be held while event keys are still inserted.
  const deferred: InvalidInput[] = [];
  for (const item of judged.valid) {
    await client.query('savepoint one_event');
    try {
      add(total, await applyBatch(client, { valid: [item], invalid: [] }, true, deferred));
      await client.query('release savepoint one_event');
    } catch (err) {
      if (!isStoreRefusal(err)) throw err;
      await client.query('rollback to savepoint one_event');
      const message = `the store refused it: ${(err as Error).message}`;
      refusedEvents.push(item);
      refused.push({
        received: item.received,
        reasons: [{ field: '', code: 'store_refused', message }],
        source: clean(item.event.source),
        eventId: clean(item.event.id),
        contentHash: item.contentHash,
      });
    }
  }
  add(total, await applyBatch(client, { valid: [], invalid: [...deferred, ...judged.invalid, ...refused] }));
  return { ...total, isolated: true };
}

function add(total: BatchResult, part: BatchResult): void {
  total.applied += part.applied;
  total.duplicates += part.duplicates;
  total.rejected.push(...part.rejected);
  total.storeRefused.push(...part.storeRefused);
  total.subjects += part.subjects;
  mergeOutcomes(total.bySource, part.bySource);
}

function nothingApplied(): BatchResult {
  return { applied: 0, duplicates: 0, rejected: [], storeRefused: [], subjects: 0, bySource: new Map() };
}

/** A unique violation of the event keys (migration 013): an id stored before, under another subject. */
function isKeyTaken(err: unknown): boolean {
  const { code, constraint } = err as { code?: unknown; constraint?: unknown };
  return code === '23505' && constraint === 'event_keys_pkey';
}

/** SQLSTATE class 22 (data exception) or 23 (integrity constraint violation). */
export function isStoreRefusal(err: unknown): boolean {
  const { code, constraint } = err as { code?: unknown; constraint?: unknown };
  // A row with no partition to go to (23514 naming no constraint) is the store's
  // fault, not the event's: the batch fails and is read again, never rejected.
  if (code === '23514' && constraint === undefined) return false;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

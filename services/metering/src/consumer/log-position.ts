import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Batch, IncomingMessage } from '@vault/bus';
import { readTo } from './empty-offsets.ts';
import { FORGET_LEFT_AFTER, forgetDeadIncarnations } from './left-positions.ts';

/**
 * What this process has checked of each partition's stored position; kept by
 * the consumer loop (consume.ts) for as long as it runs. Changed only by
 * noteContact, after the transaction that judged a batch has committed: a
 * transaction rolled back (a deadlock retried, a lost connection) judges its
 * batch again against what was known before it.
 */
export interface Contact {
  /** Partition → the log in which the message at next_offset − 1 was read again and found the same. */
  verified: Map<number, string>;
  /** Partition → the offset this process last asked the bus to read it from. */
  asked: Map<number, string>;
  /**
   * The partition's first message still held (the bus's bounds): whether a batch that
   * begins after the offset asked for answers the ask (retention deleted it) or was
   * fetched before the ask was seen. Without it, such a batch is taken as the answer.
   * Asked before the batch's transaction (logStartFor), never while it holds the position's lock.
   */
  logStart?: (topic: string, partition: number) => Promise<bigint>;
}

export const newContact = (logStart?: Contact['logStart']): Contact => ({
  verified: new Map(),
  asked: new Map(),
  ...(logStart ? { logStart } : {}),
});

/**
 * The log's start when lockPosition may need it (an ask open, and the batch beginning after it,
 * not fetched from at or before it): read from the bus, outside any transaction.
 */
export async function logStartFor(contact: Contact | undefined, batch: Batch): Promise<bigint | undefined> {
  const asked = contact?.asked.get(batch.partition);
  if (!contact?.logStart || asked === undefined || BigInt(batch.messages[0]!.offset) <= BigInt(asked)) return undefined;
  if (batch.fetchedFrom !== undefined && BigInt(batch.fetchedFrom) <= BigInt(asked)) return undefined;
  return contact.logStart(batch.topic, batch.partition);
}

/** What a judged batch teaches the contact: applied by noteContact once its transaction commits. */
export interface ContactNote {
  /** The partition's position was checked (or started again) in this log. */
  verified?: string;
  /** The bus is asked to read the partition from this offset; null: the ask was answered. */
  asked?: string | null;
}

/** A committed batch's note, into the contact. */
export function noteContact(contact: Contact | undefined, partition: number, note: ContactNote | undefined): void {
  if (!contact || !note) return;
  if (note.verified !== undefined) contact.verified.set(partition, note.verified);
  if (note.asked === null) contact.asked.delete(partition);
  else if (note.asked !== undefined) contact.asked.set(partition, note.asked);
}

export const REREAD_ACTION = 'read again from its start; events already applied count as duplicates';

/** What is done when a partition comes back to a log metering left (left_positions, migration 024). */
export const resumeAction = (offset: bigint) =>
  `resumed at offset ${offset}, where metering left this log (the message before it is checked first)`;

/** The position to apply a batch from, or where the bus must read the partition from first. */
export type Verdict = (
  | { kind: 'apply'; position: bigint; change?: string; hole?: bigint; anchorGone?: bigint }
  | { kind: 'read_from'; offset: string; change?: string }
) & { note?: ContactNote; action?: string };

/** A partition's stored position: the offset to read next in `log`, and the hash of the message before it. */
interface Stored {
  log: string | null;
  position: bigint;
  lastHash: string | null;
}

/**
 * Locks the partition's position row (the first lock of a batch's transaction)
 * and judges the batch against it. A position stored for another log, or
 * whose last message is not the one applied, is never used to skip anything:
 * the row starts again at 0 in the batch's log, and the partition is read
 * again from its start (dedupe makes the second reading change nothing but the
 * duplicate counts), unless metering read the batch's log before and left it
 * (the position it had there kept in left_positions, migration 024): then the
 * row resumes there, and is checked as at any first contact. The message at
 * next_offset − 1 (the anchor) is read again
 * at first contact, and whenever a batch lies wholly before it: a replay, or a
 * log that changed under the same id (a broker that names no topic id, a
 * partition truncated by an unclean leader election), whose messages before the
 * old position must not be skipped as applied (caught when a batch is read at or
 * before the anchor: metering.md says what is not). Offsets a Kafka fetch read and
 * found no message at (`Batch.fetchedFrom`: transaction markers, aborted or compacted
 * records) are neither a hole nor a reason to ask again. Without `contact` (a caller that
 * is not the consumer loop) the checks that read again are left out. Reads the
 * contact only: what the batch teaches it is the verdict's `note`.
 */
export async function lockPosition(client: pg.PoolClient, batch: Batch, contact?: Contact, logStart?: bigint): Promise<Verdict> {
  const { rows } = await client.query<{ next_offset: string; log: string | null; last_hash: string | null }>({
    name: 'metering.lock-position',
    // Made at first contact, else locked as by `for update` (a conflict's update takes the row's
    // lock, waiting for its holder, and returns what is stored): one statement a batch.
    text: `insert into metering.consumer_positions as c (topic, partition, next_offset, log) values ($1, $2, 0, $3)
           on conflict (topic, partition) do update set topic = c.topic
           returning c.next_offset::text, c.log, c.last_hash`,
    values: [batch.topic, batch.partition, batch.log],
  });
  const row = rows[0]!;
  const stored: Stored = { log: row.log, position: BigInt(row.next_offset), lastHash: row.last_hash };
  if (stored.log === batch.log) return judge(client, batch, stored, contact, logStart);
  const reason = stored.log === null ? 'the position was stored before positions named their log' : `the batch comes from another log`;
  const back = await switchLog(client, batch, stored, reason);
  if (back === undefined) return restart(client, batch, stored.log, reason);
  // Judged as at first contact, whatever this process checked or asked before in another log.
  const verdict = await judge(client, batch, back, contact && { ...contact, verified: new Map(), asked: new Map() }, logStart);
  return verdict.change === undefined ? { ...verdict, change: reason, action: resumeAction(back.position) } : verdict;
}

/** Judges the batch against a position stored in its own log. */
async function judge(client: pg.PoolClient, batch: Batch, stored: Stored, contact?: Contact, logStart?: bigint): Promise<Verdict> {
  const p = batch.partition;
  const { position, lastHash } = stored;
  const first = BigInt(batch.messages[0]!.offset);
  const last = BigInt(batch.messages[batch.messages.length - 1]!.offset);
  const anchor = position - 1n;
  const atAnchor = position > 0n ? batch.messages.find((m) => BigInt(m.offset) === anchor) : undefined;
  const askedAnchor = contact?.asked.get(p) === anchor.toString();
  const checked: ContactNote = { verified: batch.log, asked: null };
  // Offsets from here to the batch's first hold no message to read (Kafka only).
  const emptyFrom = batch.fetchedFrom === undefined ? undefined : BigInt(batch.fetchedFrom);

  let change: string | undefined;
  let note: ContactNote | undefined;
  let anchorGone: bigint | undefined;
  if (atAnchor && lastHash !== null) {
    if (!isMessageOf(atAnchor, lastHash)) change = `the message at offset ${anchor} is not the one applied there`;
    else note = checked;
  } else if (contact && position > 0n && lastHash !== null && (contact.verified.get(p) !== batch.log || last < anchor)) {
    if (emptyFrom !== undefined && emptyFrom <= anchor && first > anchor) {
      // The fetch read the anchor's offset and found no message: compacted away while the log's
      // start stays below it. Asking for it again would get this batch for ever; the id is all there is.
      note = checked;
      anchorGone = anchor;
    } else if (!askedAnchor) return askFrom(anchor);
    // Asked for the anchor, and this batch does not hold it.
    else if (BigInt(batch.highWatermark) <= anchor) change = `the log ends before offset ${anchor}, which was applied`;
    else if (first > anchor && (logStart === undefined || logStart > anchor)) {
      // Deleted by retention: the log's id is all there is to check.
      note = checked;
    } else {
      // The log holds the anchor: this batch was fetched before the ask was seen. Ask again.
      return askFrom(anchor);
    }
  }
  if (change !== undefined) return restart(client, batch, stored.log, change);
  const gone = anchorGone === undefined ? {} : { anchorGone };
  // At 0 nothing is trusted: the position this batch stores is a message this process read in
  // this log, as good as checked. Before, a fresh partition's second batch asked for its anchor.
  if (position === 0n) note = { ...note, verified: batch.log };
  if (first > position) {
    // Read by the fetch and found empty (transaction markers, aborted or compacted records): nothing lost.
    if (emptyFrom !== undefined && emptyFrom <= position) return { kind: 'apply', position, ...gone, note: { ...note, asked: null } };
    const asked = contact?.asked.get(p) === position.toString();
    if (contact && !asked) return askFrom(position, note?.verified);
    // Kafka: fetched from past the position (the ask's seek lost to a rejoin), not its answer,
    // while the log still holds the position. The embedded bus reads exactly where asked.
    if (contact && emptyFrom !== undefined && logStart !== undefined && logStart <= position) return askFrom(position, note?.verified);
    // The log no longer holds what lies between: nothing can bring it back.
    return { kind: 'apply', position, hole: first - position, ...gone, note: { ...note, asked: null } };
  }
  return { kind: 'apply', position, ...gone, ...(note ? { note } : {}) };
}

function askFrom(offset: bigint, verified?: string): Verdict {
  return { kind: 'read_from', offset: offset.toString(), note: { asked: offset.toString(), ...(verified ? { verified } : {}) } };
}

/** The position starts again at 0 in the batch's log, and the partition is read from its start. */
async function restart(client: pg.PoolClient, batch: Batch, from: string | null, change: string): Promise<Verdict> {
  await startAgain(client, batch, from, change);
  const checked: ContactNote = { verified: batch.log, asked: null };
  if (BigInt(batch.messages[0]!.offset) > 0n) return { ...askFrom(0n, batch.log), change, action: REREAD_ACTION };
  return { kind: 'apply', position: 0n, change, action: REREAD_ACTION, note: checked };
}

/**
 * The batch's log is not the stored position's: the position is kept as the one metering
 * left in its log, and the one it left in the batch's log, if any, taken back as the
 * partition's (recorded in log_changes with the resume as action). Undefined: none was left.
 */
async function switchLog(client: pg.PoolClient, batch: Batch, stored: Stored, reason: string): Promise<Stored | undefined> {
  // A position at 0 skips nothing; one without a hash (before migration 006) cannot be checked.
  if (stored.log !== null && stored.position > 0n && stored.lastHash !== null) {
    await client.query(
      `insert into metering.left_positions (topic, partition, log, next_offset, last_hash) values ($1, $2, $3, $4, $5)
       on conflict (topic, partition, log) do update
         set next_offset = excluded.next_offset, last_hash = excluded.last_hash, left_at = now()`,
      [batch.topic, batch.partition, stored.log, stored.position.toString(), stored.lastHash],
    );
  }
  const { rows } = await client.query<{ next_offset: string; last_hash: string }>(
    `delete from metering.left_positions where topic = $1 and partition = $2 and log = $3 returning next_offset::text, last_hash`,
    [batch.topic, batch.partition, batch.log],
  );
  // The topic made again on the same cluster: its earlier incarnations' positions can never be resumed.
  // Only rows left a while ago: this batch's name may be another process's stale one (left-positions.ts).
  await forgetDeadIncarnations(client, batch.topic, batch.log, batch.partition, FORGET_LEFT_AFTER);
  const left = rows[0];
  if (!left) return undefined;
  const back: Stored = { log: batch.log, position: BigInt(left.next_offset), lastHash: left.last_hash };
  await client.query(
    `update metering.consumer_positions set log = $3, next_offset = $4, last_hash = $5, read_to = null, updated_at = now()
      where topic = $1 and partition = $2`,
    [batch.topic, batch.partition, batch.log, left.next_offset, left.last_hash],
  );
  await recordChange(client, batch, stored.log, reason, resumeAction(back.position));
  return back;
}

async function startAgain(client: pg.PoolClient, batch: Batch, from: string | null, reason: string): Promise<void> {
  await client.query(
    `update metering.consumer_positions set log = $3, next_offset = 0, last_hash = null, read_to = null, updated_at = now()
      where topic = $1 and partition = $2`,
    [batch.topic, batch.partition, batch.log],
  );
  await recordChange(client, batch, from, reason, REREAD_ACTION);
}

async function recordChange(client: pg.PoolClient, batch: Batch, from: string | null, reason: string, action: string): Promise<void> {
  await client.query(
    `insert into metering.log_changes (topic, partition, from_log, to_log, reason, action) values ($1, $2, $3, $4, $5, $6)`,
    [batch.topic, batch.partition, from, batch.log, reason, action],
  );
}

/**
 * Moves the position past `last`, the batch's last message, applied, in the batch's log; with
 * `read_to`, where its fetch ended past offsets holding no message (empty-offsets.ts), or null.
 */
export async function storePosition(client: pg.PoolClient, batch: Batch, last: IncomingMessage): Promise<void> {
  await client.query({
    name: 'metering.store-position',
    text: `update metering.consumer_positions set next_offset = $3, log = $4, last_hash = $5, read_to = $6, updated_at = now()
            where topic = $1 and partition = $2`,
    values: [batch.topic, batch.partition, (BigInt(last.offset) + 1n).toString(), batch.log, messageHash(last), readTo(batch)],
  });
}

/**
 * What identifies a message in its log beyond its offset: key, value, timestamp
 * and headers (a CloudEvents binary-mode message's id, source and time travel in
 * its `ce_` headers, so two events with the same data, sent in the same
 * millisecond, differ only there), each header's value as sent: the bytes of one
 * that is not UTF-8, none for one without a value. A message without headers
 * hashes as before headers counted.
 */
export function messageHash(m: IncomingMessage): string {
  return hashWith(m, headerValues(m, false));
}

/** A value's size for a header without one: no value's bytes are that long. */
const NO_VALUE = Buffer.from([0xff, 0xff, 0xff, 0xff]);

function hashWith(m: IncomingMessage, headers: [string, Buffer | null][]): string {
  const hash = legacyHash(m);
  if (headers.length === 0) return hash.digest('hex');
  // Sorted by name, each name and value length-prefixed: no two sets of headers write the same bytes.
  headers.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of headers) {
    for (const bytes of [Buffer.from(name, 'utf8'), value]) {
      if (bytes === null) {
        hash.update(NO_VALUE);
        continue;
      }
      const size = Buffer.alloc(4);
      size.writeUInt32BE(bytes.length, 0);
      hash.update(size).update(bytes);
    }
  }
  return hash.digest('hex');
}

/**
 * Every header's value as bytes. `lenient`: as the bus made them text before it
 * decoded strictly (null as "null", bytes that are not UTF-8 with U+FFFD), which
 * the hashes of positions stored then were made from.
 */
function headerValues(m: IncomingMessage, lenient: boolean): [string, Buffer | null][] {
  const values: [string, Buffer | null][] = Object.entries(m.headers ?? {}).map(([name, text]) => [name, Buffer.from(text, 'utf8')]);
  for (const [name, value] of Object.entries(m.nonTextHeaders ?? {})) {
    values.push([name, lenient ? Buffer.from(value === null ? 'null' : value.toString('utf8'), 'utf8') : value]);
  }
  return values;
}

/** The hash as stored before headers counted (key, value, timestamp), still met on positions stored then. */
function legacyHash(m: IncomingMessage) {
  const key = Buffer.from(m.key, 'utf8');
  const sizes = Buffer.alloc(8);
  sizes.writeUInt32BE(key.length, 0);
  sizes.writeUInt32BE(m.value.length, 4);
  return createHash('sha256').update(sizes).update(key).update(m.value).update(String(m.timestamp));
}

/**
 * Whether `stored` is this message's hash, or the hash a position stored before
 * headers were decoded strictly (one that is not text), or before headers counted, has.
 */
export function isMessageOf(m: IncomingMessage, stored: string): boolean {
  if (messageHash(m) === stored || legacyHash(m).digest('hex') === stored) return true;
  return m.nonTextHeaders !== undefined && hashWith(m, headerValues(m, true)) === stored;
}

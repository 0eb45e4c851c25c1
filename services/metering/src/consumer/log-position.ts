import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Batch, IncomingMessage } from '@vault/bus';

/**
 * What this process has checked of each partition's stored position; kept by
 * the consumer loop (consume.ts) for as long as it runs.
 */
export interface Contact {
  /** Partition → the log in which the message at next_offset − 1 was read again and found the same. */
  verified: Map<number, string>;
  /** Partition → the offset this process last asked the bus to read it from. */
  asked: Map<number, string>;
}

export const newContact = (): Contact => ({ verified: new Map(), asked: new Map() });

export const REREAD_ACTION = 'read again from its start; events already applied count as duplicates';

/** The position to apply a batch from, or where the bus must read the partition from first. */
export type Verdict =
  | { kind: 'apply'; position: bigint; change?: string; hole?: bigint }
  | { kind: 'read_from'; offset: string; change?: string };

/**
 * Locks the partition's position row (the first lock of a batch's transaction)
 * and judges the batch against it. A position stored for another log, or
 * whose last message is not the one applied, is never used to skip anything:
 * the row starts again at 0 in the batch's log, and the partition is read
 * again from its start (dedupe makes the second reading change nothing but the
 * duplicate counts). Without `contact` (a caller that is not the consumer
 * loop) the first-contact check and the re-reading of holes are left out.
 */
export async function lockPosition(client: pg.PoolClient, batch: Batch, contact?: Contact): Promise<Verdict> {
  const p = batch.partition;
  const { rows } = await client.query<{ next_offset: string; log: string | null; last_hash: string | null }>({
    name: 'metering.lock-position',
    // Made at first contact, else locked as by `for update` (a conflict's update takes the row's
    // lock, waiting for its holder, and returns what is stored): one statement a batch.
    text: `insert into metering.consumer_positions as c (topic, partition, next_offset, log) values ($1, $2, 0, $3)
           on conflict (topic, partition) do update set topic = c.topic
           returning c.next_offset::text, c.log, c.last_hash`,
    values: [batch.topic, p, batch.log],
  });
  const row = rows[0]!;
  const position = BigInt(row.next_offset);
  const first = BigInt(batch.messages[0]!.offset);
  const anchor = position - 1n;
  const atAnchor = position > 0n ? batch.messages.find((m) => BigInt(m.offset) === anchor) : undefined;

  let change: string | undefined;
  if (row.log !== batch.log) {
    change = row.log === null ? 'the position was stored before positions named their log' : `the batch comes from another log`;
  } else if (atAnchor && row.last_hash !== null) {
    if (messageHash(atAnchor) !== row.last_hash) change = `the message at offset ${anchor} is not the one applied there`;
    else contact?.verified.set(p, batch.log);
  } else if (contact && position > 0n && row.last_hash !== null && contact.verified.get(p) !== batch.log) {
    // First contact: read the message at next_offset − 1 again before trusting the position.
    if (contact.asked.get(p) !== anchor.toString()) return askFrom(contact, p, anchor);
    // Asked for it and the log started before it: the log ends before what was applied.
    if (first < anchor) change = `the log ends before offset ${anchor}, which was applied`;
    // Asked for it and the log starts after it: deleted by retention; the log's id is all there is to check.
    else contact.verified.set(p, batch.log);
  }
  if (change !== undefined) {
    await startAgain(client, batch, row.log, change);
    contact?.verified.set(p, batch.log);
    if (first > 0n) return { ...askFrom(contact, p, 0n), change };
    return { kind: 'apply', position: 0n, change };
  }
  if (first > position) {
    if (contact && contact.asked.get(p) !== position.toString()) return askFrom(contact, p, position);
    // The log no longer holds what lies between: nothing can bring it back.
    return { kind: 'apply', position, hole: first - position };
  }
  return { kind: 'apply', position };
}

function askFrom(contact: Contact | undefined, partition: number, offset: bigint): Verdict {
  contact?.asked.set(partition, offset.toString());
  return { kind: 'read_from', offset: offset.toString() };
}

async function startAgain(client: pg.PoolClient, batch: Batch, from: string | null, reason: string): Promise<void> {
  await client.query(
    `update metering.consumer_positions set log = $3, next_offset = 0, last_hash = null, updated_at = now()
      where topic = $1 and partition = $2`,
    [batch.topic, batch.partition, batch.log],
  );
  await client.query(
    `insert into metering.log_changes (topic, partition, from_log, to_log, reason, action) values ($1, $2, $3, $4, $5, $6)`,
    [batch.topic, batch.partition, from, batch.log, reason, REREAD_ACTION],
  );
}

/** Moves the position past `last`, the last message applied, in the batch's log. */
export async function storePosition(client: pg.PoolClient, batch: Batch, last: IncomingMessage): Promise<void> {
  await client.query({
    name: 'metering.store-position',
    text: `update metering.consumer_positions set next_offset = $3, log = $4, last_hash = $5, updated_at = now()
            where topic = $1 and partition = $2`,
    values: [batch.topic, batch.partition, (BigInt(last.offset) + 1n).toString(), batch.log, messageHash(last)],
  });
}

/** What identifies a message in its log beyond its offset: key, value and timestamp. */
export function messageHash(m: IncomingMessage): string {
  const key = Buffer.from(m.key, 'utf8');
  const sizes = Buffer.alloc(8);
  sizes.writeUInt32BE(key.length, 0);
  sizes.writeUInt32BE(m.value.length, 4);
  return createHash('sha256').update(sizes).update(key).update(m.value).update(String(m.timestamp)).digest('hex');
}

import type pg from 'pg';
import type { Batch, EmptyRange } from '@vault/bus';

/**
 * The offsets a Kafka fetch found holding no message after a partition's position (its trailing
 * transaction markers, an aborted transaction), kept as `read_to` so `consumer_lag` reaches 0
 * (log-report.ts). Taken only when the range begins at the stored position or within what is
 * already known to hold none, in the range's log; never moves back. A partition with no position
 * yet (no message applied: as at 0) gets one at 0, made as a batch's first contact makes it
 * (lockPosition), when the range begins at 0. One statement of its own (autocommit, or the
 * caller's transaction). `next_offset` is never moved: nothing is skipped by it, so a kill before
 * or after it loses and doubles nothing.
 */
export async function noteEmptyRange(db: pg.Pool | pg.PoolClient, range: EmptyRange): Promise<void> {
  await db.query({
    name: 'metering.note-empty-range',
    text: `with known as (
             update metering.consumer_positions set read_to = $5
              where topic = $1 and partition = $2 and log = $3
                and $4::bigint between next_offset and greatest(next_offset, read_to)
                and greatest(next_offset, read_to) < $5::bigint
             returning 1
           )
           insert into metering.consumer_positions (topic, partition, next_offset, log, read_to)
           select $1, $2, 0, $3, $5 where $4::bigint = 0 and not exists (select from known)
           on conflict (topic, partition) do nothing`,
    values: [range.topic, range.partition, range.log, range.from, range.to],
  });
}

/** A batch applied: what its fetch showed to hold no message after its last message, for storePosition. */
export function readTo(batch: Batch): string | null {
  if (batch.fetchedTo === undefined) return null;
  const after = BigInt(batch.messages[batch.messages.length - 1]!.offset) + 1n;
  return BigInt(batch.fetchedTo) > after ? batch.fetchedTo : null;
}

/**
 * A batch wholly before the position (a replay: the anchor read again at first contact, a bus
 * commit lost) whose last message is the one at the position − 1: the offsets its fetch read past
 * it hold no message. The position learns them (a statement only then).
 */
export async function noteReplayEnd(client: pg.PoolClient, batch: Batch, position: bigint): Promise<void> {
  const to = readTo(batch);
  if (to === null || BigInt(batch.messages[batch.messages.length - 1]!.offset) + 1n !== position) return;
  await noteEmptyRange(client, { topic: batch.topic, partition: batch.partition, log: batch.log, from: position.toString(), to });
}

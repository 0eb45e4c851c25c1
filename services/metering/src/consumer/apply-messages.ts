import type pg from 'pg';
import { withTransaction, type TransactionLog } from '@vault/db';
import type { Batch } from '@vault/bus';
import { judge, type InvalidInput, type Judged } from '../domain/judge.ts';
import { addCounters, applyBatch, lockSubjects, type BatchResult } from './apply-batch.ts';

export interface MessagesResult extends BatchResult {
  /** Messages already applied by an earlier pass (their bus commit was lost). */
  skipped: number;
  /** True when the batch had to be applied event by event to isolate one the store refused. */
  isolated: boolean;
}

/**
 * One bus batch, exactly once: the partition's position row is locked, the
 * messages before it skipped, the rest applied, and the new position written,
 * all in one transaction. The bus commit that follows is only an optimisation:
 * if it is lost, the replay finds its messages behind the position. Locks are
 * taken in one order: the position row, the subjects (sorted), event keys
 * (sorted), rejections (sorted), the counters, the position's update; a
 * deadlock all the same is retried whole by withTransaction.
 */
export async function applyMessages(pool: pg.Pool, batch: Batch, nowMs = Date.now(), log?: TransactionLog): Promise<MessagesResult> {
  return withTransaction(
    pool,
    async (client) => {
      await client.query(
        `insert into metering.consumer_positions (topic, partition, next_offset) values ($1, $2, 0)
         on conflict do nothing`,
        [batch.topic, batch.partition],
      );
      const { rows } = await client.query<{ next_offset: string }>(
        `select next_offset::text from metering.consumer_positions
          where topic = $1 and partition = $2 for update`,
        [batch.topic, batch.partition],
      );
      const position = BigInt(rows[0]!.next_offset);
      const fresh = batch.messages.filter((m) => BigInt(m.offset) >= position);
      const skipped = batch.messages.length - fresh.length;
      if (fresh.length === 0) return { applied: 0, duplicates: 0, rejected: [], subjects: 0, skipped, isolated: false };
      const judged = judge(
        fresh.map((m) => ({ bytes: m.value, receivedAtMs: m.timestamp, position: `${m.topic}/${m.partition}/${m.offset}` })),
        nowMs,
      );
      const result = await applyRefusing(client, judged);
      await addCounters(client, result);
      await client.query(
        `update metering.consumer_positions set next_offset = $3, updated_at = now()
          where topic = $1 and partition = $2`,
        [batch.topic, batch.partition, (BigInt(fresh[fresh.length - 1]!.offset) + 1n).toString()],
      );
      return { ...result, skipped };
    },
    { log, name: 'metering.apply' },
  );
}

/**
 * Applies the batch whole; if the store refuses it (a data or constraint
 * error, which retrying can never cure) it is applied event by event, and the
 * events refused alone are rejected: a poison message never stops the consumer.
 */
async function applyRefusing(client: pg.PoolClient, judged: Judged): Promise<BatchResult & { isolated: boolean }> {
  await client.query('savepoint whole_batch');
  try {
    return { ...(await applyBatch(client, judged)), isolated: false };
  } catch (err) {
    if (!isStoreRefusal(err)) throw err;
    await client.query('rollback to savepoint whole_batch');
  }
  // The rollback released the subject locks: take them all again, sorted, before
  // the events one by one would take them in arrival order.
  await lockSubjects(
    client,
    judged.valid.map((v) => v.event.subject),
  );
  const total: BatchResult = { applied: 0, duplicates: 0, rejected: [], subjects: 0 };
  const refused: InvalidInput[] = [];
  for (const item of judged.valid) {
    await client.query('savepoint one_event');
    try {
      add(total, await applyBatch(client, { valid: [item], invalid: [] }));
      await client.query('release savepoint one_event');
    } catch (err) {
      if (!isStoreRefusal(err)) throw err;
      await client.query('rollback to savepoint one_event');
      const message = `the store refused it: ${(err as Error).message}`;
      refused.push({
        received: item.received,
        reasons: [{ field: '', code: 'store_refused', message }],
        source: item.event.source,
        eventId: item.event.id,
      });
    }
  }
  add(total, await applyBatch(client, { valid: [], invalid: [...judged.invalid, ...refused] }));
  return { ...total, isolated: true };
}

function add(total: BatchResult, part: BatchResult): void {
  total.applied += part.applied;
  total.duplicates += part.duplicates;
  total.rejected.push(...part.rejected);
  total.subjects += part.subjects;
}

/** SQLSTATE class 22 (data exception) or 23 (integrity constraint violation). */
export function isStoreRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

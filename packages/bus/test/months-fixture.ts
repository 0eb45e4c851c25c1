// Helpers for the tests of the embedded bus's monthly partitions. Messages are
// published through the bus (published_at = the transaction's now()) and then
// moved to another month by updating published_at, which PostgreSQL carries
// out as a move to that month's partition (or to DEFAULT when the month has
// none). Each test has its own database: months are shared by every topic in one.
import assert from 'node:assert/strict';
import { eventually, uniqueName, type TestDatabase } from '@vault/testkit';
import type { BusUnderTest } from './embedded-fixture.ts';

/**
 * Publishes m-0 … m-(n − 1) to the one-partition topic `topic` (at offsets 0 … n − 1 when it is new), then gives
 * the messages at the offsets listed under a publish time in `months` that time, moving them to its month.
 */
export async function publish(t: BusUnderTest, topic: string, n: number, months: Record<string, number[]> = {}): Promise<void> {
  await t.bus.ensureTopic(topic, 1);
  await t.bus.publish(
    topic,
    Array.from({ length: n }, (_, i) => ({ key: 'k', value: `m-${i}` })),
  );
  for (const [at, offsets] of Object.entries(months))
    await t.db.pool.query(`update bus.messages set published_at = $3 where topic = $1 and "offset" = any($2::bigint[])`, [
      topic,
      offsets,
      at,
    ]);
}

/** Each message of `topic` held, in offset order, with the partition (table) it lives in. */
export async function where(db: TestDatabase, topic: string) {
  const { rows } = await db.pool.query<{ offset: number; month: string }>(
    `select "offset"::int as offset, tableoid::regclass::text as month from bus.messages where topic = $1 order by "offset"`,
    [topic],
  );
  return rows;
}

export async function monthTables(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.pool.query<{ t: string }>(
    `select c.relname as t from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'bus.messages'::regclass order by 1`,
  );
  return rows.map((r) => r.t);
}

/** `messages_YYYY_MM` of this month and the next, by the database's clock. */
export async function thisAndNext(db: TestDatabase): Promise<{ current: string; next: string; nextStart: string }> {
  const { rows } = await db.pool.query<{ current: string; next: string; next_start: string }>(
    `select 'messages_' || to_char(now() at time zone 'UTC', 'YYYY_MM') as current,
            'messages_' || to_char(date_trunc('month', now() at time zone 'UTC') + interval '1 month', 'YYYY_MM') as next,
            to_char(date_trunc('month', now() at time zone 'UTC') + interval '1 month', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as next_start`,
  );
  return { current: rows[0]!.current, next: rows[0]!.next, nextStart: rows[0]!.next_start };
}

/** Offsets `from` … `to` − 1, as the bus gives them. */
export const strings = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => String(from + i));

/**
 * A member of `groupId` (a new group unless given) that records the offsets it reads and commits only when told,
 * once it has read `expected`: exactly those offsets, in that order, nothing skipped, nothing twice.
 */
export async function readerOf(t: BusUnderTest, topic: string, expected: string[], groupId = uniqueName('g')) {
  const offsets: string[] = [];
  const consumer = await t.bus.consume({
    topic,
    groupId,
    autoCommit: false,
    eachBatch: async (b) => {
      offsets.push(...b.messages.map((m) => m.offset));
    },
  });
  t.consumers.push(consumer);
  await eventually(
    () => `offsets ${expected.join(',')} read, got ${offsets.join(',')}`,
    () => offsets.length >= expected.length,
  );
  assert.deepEqual(offsets, expected, 'nothing skipped, nothing twice');
  return { offsets, consumer };
}

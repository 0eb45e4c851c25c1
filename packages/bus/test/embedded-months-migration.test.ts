import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FETCH } from '../src/embedded-consumer-sql.ts';
import { monthNeeded } from '../src/embedded-months.ts';
import { LONG, withBusOver } from './embedded-fixture.ts';
import { monthTables, readerOf, strings, thisAndNext, where } from './months-fixture.ts';

// A log written before 005: topic `kept` holds 6 messages, three of November, two of December and one of now.
const OLD_LOG = `
  insert into bus.topics (topic, partitions) values ('kept', 1);
  insert into bus.partitions (topic, partition, next_offset) values ('kept', 0, 6);
  insert into bus.messages (topic, partition, "offset", key, value, published_at)
    select 'kept', 0, o, 'k', ('v-' || o)::bytea,
           case when o < 3 then timestamptz '2025-11-30 23:00:00+00' when o < 5 then timestamptz '2025-12-01 00:00:00+00' else now() end
      from generate_series(0, 5) o;`;

// A log large enough for the planner to choose: half of it in December, half now.
const BIG_LOG = `
  insert into bus.topics (topic, partitions) values ('big', 2);
  insert into bus.partitions (topic, partition, next_offset) values ('big', 0, 20000), ('big', 1, 0);
  insert into bus.messages (topic, partition, "offset", key, value, published_at)
    select 'big', 0, o, 'k', 'v'::bytea,
           case when o < 10000 then timestamptz '2025-12-15 00:00:00+00' else now() end
      from generate_series(0, 19999) o;
  analyze bus.messages;`;

describe('embedded bus migration 005 (real PostgreSQL)', () => {
  test(
    'migration 005 over a log holding messages: each moves to its month, all stay readable, and reads by offset stay index scans',
    LONG,
    () =>
      withBusOver('busmig005', { migration: '005', rows: OLD_LOG }, async (t) => {
        const { db, bus } = t;
        const { current, next } = await thisAndNext(db);
        assert.deepEqual(await monthTables(db), ['messages_2025_11', 'messages_2025_12', 'messages_default', current, next].sort());
        assert.deepEqual(
          (await where(db, 'kept')).map((r) => `${r.offset}:${r.month}`),
          [
            '0:bus.messages_2025_11',
            '1:bus.messages_2025_11',
            '2:bus.messages_2025_11',
            '3:bus.messages_2025_12',
            '4:bus.messages_2025_12',
            `5:bus.${current}`,
          ],
        );
        await bus.publish('kept', [{ key: 'k', value: 'v-6' }]);
        await readerOf(t, 'kept', strings(0, 7));

        // Reads by (topic, partition, offset range) use the primary key in every month.
        await db.pool.query(BIG_LOG);
        const incarnation = (await db.pool.query<{ i: string }>(`select incarnation::text as i from bus.topics where topic = 'big'`))
          .rows[0]!.i;
        for (const from of ['0', '9990', '15000']) {
          const { rows } = await db.pool.query<{ 'QUERY PLAN': string }>(`explain ${FETCH}`, ['big', 0, from, 500, incarnation]);
          const plan = rows.map((x) => x['QUERY PLAN']).join('\n');
          assert.doesNotMatch(plan, new RegExp(`Seq Scan on (messages_2025_12|${current})`), plan);
          assert.match(plan, /Index (Only )?Scan using messages_2025_12_pkey/, plan);
          assert.match(plan, new RegExp(`Index (Only )?Scan using ${current}_pkey`), plan);
        }

        // The check before dropping a month reads the primary keys too, whatever the months hold.
        const needed = await db.pool.query<{ 'QUERY PLAN': string }>(`explain ${monthNeeded('messages_2025_12')}`, [
          '2025-12-01 00:00:00+00',
          '2026-01-01 00:00:00+00',
        ]);
        const neededPlan = needed.rows.map((x) => x['QUERY PLAN']).join('\n');
        assert.doesNotMatch(neededPlan, /Seq Scan on messages/, neededPlan);

        // 004's trigger still takes a deleted topic's log with it, in every month.
        await db.pool.query(`delete from bus.topics where topic = 'kept'`);
        assert.deepEqual(await where(db, 'kept'), []);
      }),
  );
});

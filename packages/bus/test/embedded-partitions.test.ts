import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { migrate } from '@vault/db';
import { eventually, freshDatabase, uniqueName, type TestDatabase } from '@vault/testkit';
import { FETCH } from '../src/embedded-consumer-sql.ts';
import { maintainMonths, monthNeeded } from '../src/embedded-months.ts';
import { createEmbeddedBus, type Consumer, type EmbeddedBus } from '../src/index.ts';

// Messages are published through the bus (published_at = the transaction's
// now()) and then moved to another month by updating published_at, which
// PostgreSQL carries out as a move to that month's partition (or to DEFAULT
// when the month has none). Each test has its own database: months are shared
// by every topic in one.

const LONG = { timeout: 120_000 };
type Line = { event: string; fields: Record<string, string | number> };

/** A fresh database with the embedded bus on it, and what the test needs to stop. */
async function setUp(prefix: string, lines: Line[] = []) {
  const db = await freshDatabase(prefix);
  const bus = await createEmbeddedBus({ pool: db.pool, url: db.url, log: (event, fields = {}) => lines.push({ event, fields }) });
  const consumers: Consumer[] = [];
  return {
    db,
    bus,
    consumers,
    async close() {
      await Promise.all(consumers.map((c) => c.stop()));
      await bus.close();
      await db.drop();
    },
  };
}

async function publish(bus: EmbeddedBus, topic: string, n: number, partitions = 1) {
  await bus.ensureTopic(topic, partitions);
  await bus.publish(
    topic,
    Array.from({ length: n }, (_, i) => ({ key: 'k', value: `m-${i}` })),
  );
}

/** Gives the messages of `topic` at `offsets` the publish time `at`. */
async function moveTo(db: TestDatabase, topic: string, offsets: number[], at: string) {
  await db.pool.query(`update bus.messages set published_at = $3 where topic = $1 and "offset" = any($2::bigint[])`, [topic, offsets, at]);
}

/** Each message of `topic` held, in offset order, with the partition (table) it lives in. */
async function where(db: TestDatabase, topic: string) {
  const { rows } = await db.pool.query<{ offset: number; month: string }>(
    `select "offset"::int as offset, tableoid::regclass::text as month from bus.messages where topic = $1 order by "offset"`,
    [topic],
  );
  return rows;
}

async function monthTables(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.pool.query<{ t: string }>(
    `select c.relname as t from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'bus.messages'::regclass order by 1`,
  );
  return rows.map((r) => r.t);
}

/** `messages_YYYY_MM` of this month and the next, by the database's clock. */
async function thisAndNext(db: TestDatabase): Promise<{ current: string; next: string; nextStart: string }> {
  const { rows } = await db.pool.query<{ current: string; next: string; next_start: string }>(
    `select 'messages_' || to_char(now() at time zone 'UTC', 'YYYY_MM') as current,
            'messages_' || to_char(date_trunc('month', now() at time zone 'UTC') + interval '1 month', 'YYYY_MM') as next,
            to_char(date_trunc('month', now() at time zone 'UTC') + interval '1 month', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as next_start`,
  );
  return { current: rows[0]!.current, next: rows[0]!.next, nextStart: rows[0]!.next_start };
}

/** A member of a new group that records the offsets it reads and commits only when told. */
async function reader(bus: EmbeddedBus, consumers: Consumer[], topic: string) {
  const offsets: string[] = [];
  const consumer = await bus.consume({
    topic,
    groupId: uniqueName('g'),
    autoCommit: false,
    eachBatch: async (b) => {
      offsets.push(...b.messages.map((m) => m.offset));
    },
  });
  consumers.push(consumer);
  return { offsets, consumer };
}

const strings = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => String(from + i));

describe('embedded bus monthly partitions (real PostgreSQL)', () => {
  test(
    'messages of different months land in their month’s partition, and a group reads across the turn of the month in offset order',
    LONG,
    async () => {
      const t = await setUp('busmonths');
      try {
        const { current } = await thisAndNext(t.db);
        const topic = uniqueName('months');
        await publish(t.bus, topic, 10);
        await moveTo(t.db, topic, [0, 1, 2, 3, 4], '2025-10-31T23:59:59.999Z');
        await moveTo(t.db, topic, [5, 6, 7, 8, 9], '2025-11-01T00:00:00Z');
        assert.deepEqual(
          (await where(t.db, topic)).map((r) => r.month),
          Array(10).fill('bus.messages_default'),
          'a month with no partition: DEFAULT takes its rows, nothing fails',
        );

        const first = await maintainMonths(t.db.pool);
        assert.deepEqual(first, { created: ['messages_2025_10', 'messages_2025_11'], moved: 10, dropped: [] });
        assert.deepEqual(await maintainMonths(t.db.pool), { created: [], moved: 0, dropped: [] }, 'a second round finds it all done');
        await t.bus.publish(topic, [
          { key: 'k', value: 'now-0' },
          { key: 'k', value: 'now-1' },
        ]);
        assert.deepEqual(
          (await where(t.db, topic)).map((r) => `${r.offset}:${r.month}`),
          [
            ...[0, 1, 2, 3, 4].map((o) => `${o}:bus.messages_2025_10`),
            ...[5, 6, 7, 8, 9].map((o) => `${o}:bus.messages_2025_11`),
            `10:bus.${current}`,
            `11:bus.${current}`,
          ],
        );

        const r = await reader(t.bus, t.consumers, topic);
        await eventually('the 12 messages read', () => r.offsets.length >= 12);
        assert.deepEqual(r.offsets, strings(0, 12), 'nothing skipped, nothing twice');
      } finally {
        await t.close();
      }
    },
  );

  test(
    'maintenance creates this month’s and the next month’s partitions, moving into them the rows DEFAULT took meanwhile',
    LONG,
    async () => {
      const t = await setUp('busmonthsahead');
      try {
        const { current, next, nextStart } = await thisAndNext(t.db);
        // As if the migration had run months ago: neither partition exists yet.
        await t.db.pool.query(`alter table bus.messages detach partition bus.${current}; drop table bus.${current};
                           alter table bus.messages detach partition bus.${next}; drop table bus.${next};`);
        const topic = uniqueName('ahead');
        await publish(t.bus, topic, 3);
        await moveTo(t.db, topic, [2], nextStart);
        assert.deepEqual(
          (await where(t.db, topic)).map((r) => r.month),
          Array(3).fill('bus.messages_default'),
        );

        const lines: Line[] = [];
        assert.deepEqual(await maintainMonths(t.db.pool, (event, fields = {}) => lines.push({ event, fields })), {
          created: [current, next],
          moved: 3,
          dropped: [],
        });
        assert.deepEqual(
          (await where(t.db, topic)).map((r) => r.month),
          [`bus.${current}`, `bus.${current}`, `bus.${next}`],
        );
        assert.deepEqual(lines, [
          {
            event: 'bus.months',
            fields: {
              created: `${current},${next}`,
              dropped: '-',
              'count#bus.partitions_created': 2,
              'count#bus.partitions_dropped': 0,
              'count#bus.messages_moved': 3,
            },
          },
        ]);
        assert.deepEqual(await maintainMonths(t.db.pool), { created: [], moved: 0, dropped: [] });
        assert.deepEqual(await monthTables(t.db), ['messages_default', current, next].sort());
      } finally {
        await t.close();
      }
    },
  );

  test(
    'a month every group has read past is dropped whole; one a lagging group still needs stays, as does one of a topic no group reads',
    LONG,
    async () => {
      const t = await setUp('busmonthsdrop');
      try {
        const { current, next } = await thisAndNext(t.db);
        const topic = uniqueName('drop');
        await publish(t.bus, topic, 12);
        await moveTo(t.db, topic, [0, 1, 2, 3], '2025-09-15T00:00:00Z');
        await moveTo(t.db, topic, [4, 5, 6, 7], '2025-10-15T00:00:00Z');
        const unread = uniqueName('unread');
        await publish(t.bus, unread, 2);
        await moveTo(t.db, unread, [0, 1], '2025-08-15T00:00:00Z');
        assert.deepEqual((await maintainMonths(t.db.pool)).created, ['messages_2025_08', 'messages_2025_09', 'messages_2025_10']);

        const [fast, slow] = [await reader(t.bus, t.consumers, topic), await reader(t.bus, t.consumers, topic)];
        await eventually('both groups read the 12 messages', () => fast.offsets.length === 12 && slow.offsets.length === 12);
        await fast.consumer.commit(0, '12');
        await slow.consumer.commit(0, '3');
        // Trim point 2: September holds 2 and 3, which the slow group may still need.
        assert.deepEqual((await maintainMonths(t.db.pool)).dropped, []);

        await slow.consumer.commit(0, '6');
        // Trim point 5: all of September (0–3) is below it, October's 5–7 are not.
        assert.deepEqual((await maintainMonths(t.db.pool)).dropped, ['messages_2025_09']);
        assert.deepEqual(await monthTables(t.db), ['messages_2025_08', 'messages_2025_10', 'messages_default', current, next].sort());
        assert.deepEqual(
          (await where(t.db, topic)).map((r) => r.offset),
          [4, 5, 6, 7, 8, 9, 10, 11],
        );
        assert.deepEqual(await t.bus.bounds(topic), [{ partition: 0, start: '4', end: '12' }]);
        assert.deepEqual(
          (await where(t.db, unread)).map((r) => r.month),
          ['bus.messages_2025_08', 'bus.messages_2025_08'],
          'a topic no group reads keeps its month',
        );

        // The row trim goes on as before, and a group that joins now reads what is held, with no hole.
        assert.deepEqual(await t.bus.trim(topic), [{ topic, partition: 0, deleted: 1 }]);
        const late = await reader(t.bus, t.consumers, topic);
        await eventually('the late group reads what is held', () => late.offsets.length >= 7);
        assert.deepEqual(late.offsets, strings(5, 12));
      } finally {
        await t.close();
      }
    },
  );

  test(
    'months out of step with offsets at the turn of a month are dropped only once the row trim has left each one a prefix of the log',
    LONG,
    async () => {
      const t = await setUp('busmonthsstep');
      try {
        const topic = uniqueName('step');
        await publish(t.bus, topic, 10);
        // A publish that began before midnight may take its offset after one that began after it.
        await moveTo(t.db, topic, [0, 1, 3], '2025-05-31T23:59:59Z');
        await moveTo(t.db, topic, [2, 4, 5], '2025-06-01T00:00:01Z');
        await maintainMonths(t.db.pool);
        const r = await reader(t.bus, t.consumers, topic);
        await eventually('the 10 messages read', () => r.offsets.length === 10);
        await r.consumer.commit(0, '10');
        // Every message of both months is below the trim point (9), but dropping either would leave a hole (2, or 3 and 4).
        assert.deepEqual((await maintainMonths(t.db.pool)).dropped, []);
        await t.bus.trim(topic);
        assert.deepEqual((await maintainMonths(t.db.pool)).dropped, ['messages_2025_05', 'messages_2025_06']);
        assert.deepEqual(
          (await where(t.db, topic)).map((m) => m.offset),
          [9],
        );
      } finally {
        await t.close();
      }
    },
  );

  test(
    'a topic deleted and created again: the old log’s month goes with it, and the new log’s month stays until its groups commit there',
    LONG,
    async () => {
      const t = await setUp('busmonthsrecreate');
      try {
        const topic = uniqueName('recreate');
        await publish(t.bus, topic, 4);
        await moveTo(t.db, topic, [0, 1, 2, 3], '2025-03-10T00:00:00Z');
        const old = await reader(t.bus, t.consumers, topic);
        await eventually('the old log read', () => old.offsets.length === 4);
        await old.consumer.commit(0, '4');
        await old.consumer.stop();
        assert.deepEqual((await maintainMonths(t.db.pool)).dropped, [], 'the message at committed − 1 (3) keeps March');

        await t.db.pool.query('delete from bus.topics where topic = $1', [topic]);
        await publish(t.bus, topic, 3);
        await moveTo(t.db, topic, [0, 1], '2025-04-10T00:00:00Z');
        // March is empty (the delete took its messages); April holds the new log, which its group has not read.
        const round = await maintainMonths(t.db.pool);
        assert.deepEqual(round.created, ['messages_2025_04']);
        assert.deepEqual(round.dropped, ['messages_2025_03']);

        const groupId = (await t.db.pool.query<{ group_id: string }>('select group_id from bus.groups where topic = $1', [topic])).rows[0]!
          .group_id;
        const offsets: string[] = [];
        const again = await t.bus.consume({
          topic,
          groupId,
          autoCommit: false,
          eachBatch: async (b) => {
            offsets.push(...b.messages.map((m) => m.offset));
          },
        });
        t.consumers.push(again);
        await eventually('the new log read from its start', () => offsets.length === 3);
        assert.deepEqual(offsets, ['0', '1', '2']);
        assert.deepEqual((await maintainMonths(t.db.pool)).dropped, []);
        await again.commit(0, '3');
        assert.deepEqual((await maintainMonths(t.db.pool)).dropped, ['messages_2025_04']);
        assert.deepEqual(
          (await where(t.db, topic)).map((m) => m.offset),
          [2],
        );
      } finally {
        await t.close();
      }
    },
  );

  test('maintenance killed mid-step leaves nothing half done, and the next round finishes it', LONG, async () => {
    const t = await setUp('busmonthskill');
    const reading = await t.db.pool.connect();
    try {
      const topic = uniqueName('kill');
      await publish(t.bus, topic, 4);
      await moveTo(t.db, topic, [0, 1, 2, 3], '2025-02-10T00:00:00Z');
      /** Runs a round while `reading` holds a read of `table` open, and kills the round's session once it waits for a lock. */
      const killedWhileWaiting = async (table: string) => {
        await reading.query(`begin; select count(*) from ${table}`);
        const round = maintainMonths(t.db.pool).then(
          () => 'finished',
          (err: Error) => err.message,
        );
        let killed = false;
        await eventually('the round waits for a lock', async () => {
          const { rows } = await t.db.pool.query<{ killed: boolean }>(
            `select pg_terminate_backend(pid) as killed from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and query like 'alter table bus.messages %'`,
          );
          killed = rows.length > 0;
          return killed;
        });
        await reading.query('rollback');
        return { killed, outcome: await round };
      };

      // Killed at the attach: the month was created apart and DEFAULT's rows moved into it, in the transaction that died.
      const attach = await killedWhileWaiting('bus.messages_default');
      assert.equal(attach.killed, true);
      assert.match(attach.outcome, /terminat/);
      assert.ok(!(await monthTables(t.db)).includes('messages_2025_02'));
      assert.equal((await t.db.pool.query(`select to_regclass('bus.messages_2025_02') as t`)).rows[0].t, null, 'no table left apart');
      assert.deepEqual(
        (await where(t.db, topic)).map((r) => r.month),
        Array(4).fill('bus.messages_default'),
      );
      assert.deepEqual(await maintainMonths(t.db.pool), { created: ['messages_2025_02'], moved: 4, dropped: [] });

      const r = await reader(t.bus, t.consumers, topic);
      await eventually('the 4 messages read', () => r.offsets.length === 4);
      await r.consumer.commit(0, '4');
      await t.bus.publish(topic, [{ key: 'k', value: 'now' }]);
      await r.consumer.commit(0, '5');
      // Killed at the detach: the month stays attached with every row.
      const detach = await killedWhileWaiting('bus.messages');
      assert.equal(detach.killed, true);
      assert.match(detach.outcome, /terminat/);
      assert.ok((await monthTables(t.db)).includes('messages_2025_02'));
      assert.equal((await where(t.db, topic)).length, 5);
      assert.deepEqual((await maintainMonths(t.db.pool)).dropped, ['messages_2025_02']);
      assert.deepEqual(
        (await where(t.db, topic)).map((m) => m.offset),
        [4],
      );
    } finally {
      reading.release();
      await t.close();
    }
  });

  test(
    'a bus given trimEveryMs keeps the months by itself after each trim round, logging count#bus.partitions_created and _dropped',
    LONG,
    async () => {
      const lines: Line[] = [];
      const db = await freshDatabase('busmonthsloop');
      const bus = await createEmbeddedBus({
        pool: db.pool,
        url: db.url,
        trimEveryMs: 100,
        log: (event, fields = {}) => lines.push({ event, fields }),
      });
      try {
        const { next } = await thisAndNext(db);
        const topic = uniqueName('loop');
        await publish(bus, topic, 5);
        await moveTo(db, topic, [0, 1, 2], '2025-01-20T00:00:00Z');
        await maintainMonths(db.pool);
        // As if a month had passed since the last round: the next month has no partition yet.
        await db.pool.query(`alter table bus.messages detach partition bus.${next}; drop table bus.${next}`);
        await bus.consume({ topic, groupId: uniqueName('g'), eachBatch: async () => {} });
        const months = () => lines.filter((l) => l.event === 'bus.months');
        const total = (field: string) => months().reduce((n, l) => n + Number(l.fields[field]), 0);
        await eventually(
          () => `next month created and January dropped, got ${JSON.stringify(months())}`,
          () => total('count#bus.partitions_created') === 1 && total('count#bus.partitions_dropped') === 1,
        );
        assert.ok(months().some((l) => l.fields.created === next));
        assert.ok(months().some((l) => l.fields.dropped === 'messages_2025_01'));
        assert.ok(!(await monthTables(db)).includes('messages_2025_01'));
      } finally {
        await bus.close();
        await db.drop();
      }
    },
  );

  test(
    'migration 005 over a log holding messages: each moves to its month, all stay readable, and reads by offset stay index scans',
    LONG,
    async () => {
      const db = await freshDatabase('busmig005');
      const before005 = await mkdtemp(join(tmpdir(), 'bus-migrations-'));
      try {
        const dir = fileURLToPath(new URL('../migrations', import.meta.url));
        for (const file of ['001_log.sql', '002_log_identity.sql', '003_groups.sql', '004_topic_delete.sql'])
          await copyFile(join(dir, file), join(before005, file));
        await migrate(db.pool, 'bus', before005);
        await db.pool.query(`
      insert into bus.topics (topic, partitions) values ('kept', 1);
      insert into bus.partitions (topic, partition, next_offset) values ('kept', 0, 6);
      insert into bus.messages (topic, partition, "offset", key, value, published_at)
        select 'kept', 0, o, 'k', ('v-' || o)::bytea,
               case when o < 3 then timestamptz '2025-11-30 23:00:00+00' when o < 5 then timestamptz '2025-12-01 00:00:00+00' else now() end
          from generate_series(0, 5) o;`);

        const bus = await createEmbeddedBus({ pool: db.pool, url: db.url });
        const consumers: Consumer[] = [];
        try {
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
          const r = await reader(bus, consumers, 'kept');
          await eventually('the 7 messages read', () => r.offsets.length >= 7);
          assert.deepEqual(r.offsets, strings(0, 7));

          // A log large enough for the planner to choose: reads by (topic, partition, offset range) use the primary key in every month.
          await db.pool.query(`
        insert into bus.topics (topic, partitions) values ('big', 2);
        insert into bus.partitions (topic, partition, next_offset) values ('big', 0, 20000), ('big', 1, 0);
        insert into bus.messages (topic, partition, "offset", key, value, published_at)
          select 'big', 0, o, 'k', 'v'::bytea,
                 case when o < 10000 then timestamptz '2025-12-15 00:00:00+00' else now() end
            from generate_series(0, 19999) o;
        analyze bus.messages;`);
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
        } finally {
          await Promise.all(consumers.map((c) => c.stop()));
          await bus.close();
        }
      } finally {
        await rm(before005, { recursive: true, force: true });
        await db.drop();
      }
    },
  );
});

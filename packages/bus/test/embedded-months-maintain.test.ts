import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { eventually, uniqueName } from '@vault/testkit';
import { maintainMonths } from '../src/embedded-months.ts';
import { busTest, type LogLine } from './embedded-fixture.ts';
import { monthTables, publish, readerOf, strings, thisAndNext, where } from './months-fixture.ts';

describe('embedded bus monthly partitions: maintenance creates the months (real PostgreSQL)', () => {
  busTest(
    'messages of different months land in their month’s partition, and a group reads across the turn of the month in offset order',
    'busmonths',
    async (t) => {
      const { current } = await thisAndNext(t.db);
      const topic = uniqueName('months');
      await publish(t, topic, 10, { '2025-10-31T23:59:59.999Z': [0, 1, 2, 3, 4], '2025-11-01T00:00:00Z': [5, 6, 7, 8, 9] });
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

      await readerOf(t, topic, strings(0, 12));
    },
  );

  busTest(
    'maintenance creates this month’s and the next month’s partitions, moving into them the rows DEFAULT took meanwhile',
    'busmonthsahead',
    async (t) => {
      const { current, next, nextStart } = await thisAndNext(t.db);
      // As if the migration had run months ago: neither partition exists yet.
      await t.db.pool.query(`alter table bus.messages detach partition bus.${current}; drop table bus.${current};
                           alter table bus.messages detach partition bus.${next}; drop table bus.${next};`);
      const topic = uniqueName('ahead');
      await publish(t, topic, 3, { [nextStart]: [2] });
      assert.deepEqual(
        (await where(t.db, topic)).map((r) => r.month),
        Array(3).fill('bus.messages_default'),
      );

      const lines: LogLine[] = [];
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
    },
  );

  busTest('maintenance killed mid-step leaves nothing half done, and the next round finishes it', 'busmonthskill', async (t) => {
    const reading = await t.db.pool.connect();
    try {
      const topic = uniqueName('kill');
      await publish(t, topic, 4, { '2025-02-10T00:00:00Z': [0, 1, 2, 3] });
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

      const r = await readerOf(t, topic, strings(0, 4));
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
    }
  });

  busTest(
    'a bus given trimEveryMs keeps the months by itself after each trim round, logging count#bus.partitions_created and _dropped',
    'busmonthsloop',
    async (t) => {
      const { next } = await thisAndNext(t.db);
      const topic = uniqueName('loop');
      await publish(t, topic, 5, { '2025-01-20T00:00:00Z': [0, 1, 2] });
      await maintainMonths(t.db.pool);
      // As if a month had passed since the last round: the next month has no partition yet.
      await t.db.pool.query(`alter table bus.messages detach partition bus.${next}; drop table bus.${next}`);
      await t.bus.consume({ topic, groupId: uniqueName('g'), eachBatch: async () => {} });
      const months = () => t.lines.filter((l) => l.event === 'bus.months');
      const total = (field: string) => months().reduce((n, l) => n + Number(l.fields[field]), 0);
      await eventually(
        () => `next month created and January dropped, got ${JSON.stringify(months())}`,
        () => total('count#bus.partitions_created') === 1 && total('count#bus.partitions_dropped') === 1,
      );
      assert.ok(months().some((l) => l.fields.created === next));
      assert.ok(months().some((l) => l.fields.dropped === 'messages_2025_01'));
      assert.ok(!(await monthTables(t.db)).includes('messages_2025_01'));
    },
    { trimEveryMs: 100 },
  );
});

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { uniqueName } from '@vault/testkit';
import { maintainMonths } from '../src/embedded-months.ts';
import { busTest } from './embedded-fixture.ts';
import { monthTables, publish, readerOf, strings, thisAndNext, where } from './months-fixture.ts';

describe('embedded bus monthly partitions: a month is dropped once no group needs it (real PostgreSQL)', () => {
  busTest(
    'a month every group has read past is dropped whole; one a lagging group still needs stays, as does one of a topic no group reads',
    'busmonthsdrop',
    async (t) => {
      const { current, next } = await thisAndNext(t.db);
      const topic = uniqueName('drop');
      await publish(t, topic, 12, { '2025-09-15T00:00:00Z': [0, 1, 2, 3], '2025-10-15T00:00:00Z': [4, 5, 6, 7] });
      const unread = uniqueName('unread');
      await publish(t, unread, 2, { '2025-08-15T00:00:00Z': [0, 1] });
      assert.deepEqual((await maintainMonths(t.db.pool)).created, ['messages_2025_08', 'messages_2025_09', 'messages_2025_10']);

      const fast = await readerOf(t, topic, strings(0, 12));
      const slow = await readerOf(t, topic, strings(0, 12));
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
      await readerOf(t, topic, strings(5, 12));
    },
  );

  busTest(
    'months out of step with offsets at the turn of a month are dropped only once the row trim has left each one a prefix of the log',
    'busmonthsstep',
    async (t) => {
      const topic = uniqueName('step');
      // A publish that began before midnight may take its offset after one that began after it.
      await publish(t, topic, 10, { '2025-05-31T23:59:59Z': [0, 1, 3], '2025-06-01T00:00:01Z': [2, 4, 5] });
      await maintainMonths(t.db.pool);
      const r = await readerOf(t, topic, strings(0, 10));
      await r.consumer.commit(0, '10');
      // Every message of both months is below the trim point (9), but dropping either would leave a hole (2, or 3 and 4).
      assert.deepEqual((await maintainMonths(t.db.pool)).dropped, []);
      await t.bus.trim(topic);
      assert.deepEqual((await maintainMonths(t.db.pool)).dropped, ['messages_2025_05', 'messages_2025_06']);
      assert.deepEqual(
        (await where(t.db, topic)).map((m) => m.offset),
        [9],
      );
    },
  );

  busTest(
    'a topic deleted and created again: the old log’s month goes with it, and the new log’s month stays until its groups commit there',
    'busmonthsrecreate',
    async (t) => {
      const topic = uniqueName('recreate');
      await publish(t, topic, 4, { '2025-03-10T00:00:00Z': [0, 1, 2, 3] });
      const old = await readerOf(t, topic, strings(0, 4));
      await old.consumer.commit(0, '4');
      await old.consumer.stop();
      assert.deepEqual((await maintainMonths(t.db.pool)).dropped, [], 'the message at committed − 1 (3) keeps March');

      await t.db.pool.query('delete from bus.topics where topic = $1', [topic]);
      await publish(t, topic, 3, { '2025-04-10T00:00:00Z': [0, 1] });
      // March is empty (the delete took its messages); April holds the new log, which its group has not read.
      const round = await maintainMonths(t.db.pool);
      assert.deepEqual(round.created, ['messages_2025_04']);
      assert.deepEqual(round.dropped, ['messages_2025_03']);

      const groupId = (await t.db.pool.query<{ group_id: string }>('select group_id from bus.groups where topic = $1', [topic])).rows[0]!
        .group_id;
      // The same group started again reads the new log from its start.
      const again = await readerOf(t, topic, strings(0, 3), groupId);
      assert.deepEqual((await maintainMonths(t.db.pool)).dropped, []);
      await again.consumer.commit(0, '3');
      assert.deepEqual((await maintainMonths(t.db.pool)).dropped, ['messages_2025_04']);
      assert.deepEqual(
        (await where(t.db, topic)).map((m) => m.offset),
        [2],
      );
    },
  );
});

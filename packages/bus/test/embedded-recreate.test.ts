import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, freshDatabase, uniqueName, type TestDatabase } from '@vault/testkit';
import { createEmbeddedBus, type Consumer, type EmbeddedBus } from '../src/index.ts';
import { LONG, withBusOver } from './embedded-fixture.ts';

describe('embedded bus: a topic deleted and created again forgets its groups’ offsets (real PostgreSQL)', () => {
  let db: TestDatabase;
  let bus: EmbeddedBus;
  const lines: { event: string; fields: Record<string, string | number> }[] = [];
  const consumers: Consumer[] = [];
  before(async () => {
    db = await freshDatabase('busrecreate');
    bus = await createEmbeddedBus({ pool: db.pool, url: db.url, log: (event, fields = {}) => lines.push({ event, fields }) });
  });
  after(async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await bus.close();
    await db.drop();
  });

  const publish = (topic: string, prefix: string, n: number) =>
    bus.publish(
      topic,
      Array.from({ length: n }, (_, i) => ({ key: 'k', value: `${prefix}-${i}` })),
    );
  const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

  /** A one-partition topic holding old-0 … old-(n − 1), and a member of `groupId` that has read them all (autoCommit off). */
  async function readTopic(n: number) {
    const topic = uniqueName('recreate');
    await bus.ensureTopic(topic, 1);
    await publish(topic, 'old', n);
    const member = await reader(topic, uniqueName('g'));
    await eventually(`the ${n} old messages read`, () => member.values.length === n);
    return { topic, ...member };
  }

  async function reader(topic: string, groupId: string) {
    const values: string[] = [];
    const consumer = await bus.consume({
      topic,
      groupId,
      autoCommit: false,
      eachBatch: async (b) => {
        values.push(...b.messages.map((m) => m.value.toString()));
      },
    });
    consumers.push(consumer);
    return { values, consumer, groupId };
  }

  /** Deleted as an operator would: the topic's row alone (its trigger takes the log with it). */
  const deleteTopic = (topic: string) => db.pool.query('delete from bus.topics where topic = $1', [topic]);
  const offsets = async (topic: string) =>
    (await db.pool.query('select group_id, next_offset::text from bus.group_offsets where topic = $1', [topic])).rows;
  const held = async (topic: string) =>
    (
      await db.pool.query<{ offset: string }>(`select m."offset"::text from bus.messages m where m.topic = $1 order by m."offset"`, [topic])
    ).rows.map((r) => Number(r.offset));

  test(
    'a group that committed far into the old log: the new log published past that offset is not trimmed until the group commits in it, and the group started again reads it from its start',
    LONG,
    async () => {
      const { topic, consumer, groupId } = await readTopic(10);
      await consumer.commit(0, '10');
      await consumer.stop();

      await deleteTopic(topic);
      assert.deepEqual(await offsets(topic), [], 'the old log’s offsets are forgotten with it');
      assert.deepEqual(await held(topic), [], 'and its messages');
      const { rows: groups } = await db.pool.query('select group_id from bus.groups where topic = $1', [topic]);
      assert.deepEqual(groups, [{ group_id: groupId }], 'the group stays registered: it holds trimming back');

      await bus.ensureTopic(topic, 1);
      await publish(topic, 'new', 15);
      assert.equal(await bus.lag(topic, groupId), 15, 'nothing of the new log counts as read');
      assert.deepEqual(await bus.trim(topic), [{ topic, partition: 0, deleted: 0 }], 'past the old offset, still nothing trimmed');
      assert.deepEqual(await held(topic), range(0, 15));

      const again = await reader(topic, groupId);
      await eventually(
        () => `the new log read from its start, got ${again.values.join(',')}`,
        () => again.values.length >= 15,
      );
      assert.deepEqual(again.values, names('new', 15));
      await again.consumer.commit(0, '5');
      assert.deepEqual(await bus.trim(topic), [{ topic, partition: 0, deleted: 4 }], 'trimmed by the new log’s commit only');
      assert.deepEqual(await held(topic), range(4, 15));
    },
  );

  test(
    'a member running across the delete reads the new log from its start, and its commit of the deleted log is dropped, logged',
    LONG,
    async () => {
      const { topic, consumer, values, groupId } = await readTopic(10);
      await consumer.commit(0, '10');

      await deleteTopic(topic);
      await consumer.commit(0, '10');
      assert.deepEqual(await offsets(topic), [], 'no offset written for a topic that is gone');
      assert.ok(lines.some((l) => l.event === 'bus.commit_dropped' && l.fields.topic === topic && l.fields.offset === '10'));

      await bus.ensureTopic(topic, 1);
      await publish(topic, 'new', 15);
      await eventually(
        () => `the new log read from its start, got ${values.slice(10).join(',')}`,
        () => values.length >= 25,
      );
      assert.deepEqual(values, [...names('old', 10), ...names('new', 15)]);
      assert.ok(lines.some((l) => l.event === 'bus.topic_changed' && l.fields.topic === topic));
      assert.equal(await bus.lag(topic, groupId), 15);
      assert.deepEqual(await bus.trim(topic), [{ topic, partition: 0, deleted: 0 }]);

      await consumer.commit(0, '15');
      assert.deepEqual(await offsets(topic), [{ group_id: groupId, next_offset: '15' }]);
      await bus.trim(topic);
      assert.deepEqual(await held(topic), [14]);
    },
  );
});

describe('embedded bus migration 004', () => {
  // Topic `kept` was created again with 3 messages; `gone` was deleted. Both left rows behind.
  const LEFT_BEHIND = `
    insert into bus.topics (topic, partitions) values ('kept', 1);
    insert into bus.partitions (topic, partition, next_offset) values ('kept', 0, 3);
    insert into bus.messages (topic, partition, "offset", key, value)
      select 'kept', 0, o, 'k', 'v'::bytea from generate_series(0, 5) o
      union all select 'gone', 0, o, 'k', 'v'::bytea from generate_series(0, 2) o;
    insert into bus.group_offsets (group_id, topic, partition, next_offset)
      values ('at-end', 'kept', 0, 3), ('past-end', 'kept', 0, 9), ('at-end', 'gone', 0, 2);`;

  test('forgets what topics deleted before it left behind: offsets and messages of no topic, or past their partition’s end', LONG, () =>
    withBusOver('busmig004', { migration: '004', rows: LEFT_BEHIND }, async ({ db, bus }) => {
      const { rows } = await db.pool.query(`select group_id, topic, next_offset::text from bus.group_offsets order by 1, 2`);
      assert.deepEqual(rows, [{ group_id: 'at-end', topic: 'kept', next_offset: '3' }]);
      const { rows: messages } = await db.pool.query(`select topic, "offset"::int from bus.messages order by 1, 2`);
      assert.deepEqual(
        messages,
        [0, 1, 2].map((offset) => ({ topic: 'kept', offset })),
      );
      await bus.publish('kept', [{ key: 'k', value: 'next' }]);
      assert.deepEqual(await bus.bounds('kept'), [{ partition: 0, start: '0', end: '4' }], 'the next offset is free again');
    }),
  );
});

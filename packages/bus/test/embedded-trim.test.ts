import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, freshDatabase, uniqueName, type TestDatabase } from '@vault/testkit';
import { createEmbeddedBus, type Batch, type Consumer, type EmbeddedBus } from '../src/index.ts';
import { busTest, LONG } from './embedded-fixture.ts';

describe('embedded bus trimming (real PostgreSQL)', () => {
  let db: TestDatabase;
  let bus: EmbeddedBus;
  const consumers: Consumer[] = [];
  before(async () => {
    db = await freshDatabase('bustrim');
    bus = await createEmbeddedBus({ pool: db.pool, url: db.url });
  });
  after(async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await bus.close();
    await db.drop();
  });

  /** A one-partition topic holding messages m-0 … m-(n − 1) at offsets 0 … n − 1. */
  async function topicOf(n: number): Promise<string> {
    const topic = uniqueName('trim');
    await bus.ensureTopic(topic, 1);
    await bus.publish(
      topic,
      Array.from({ length: n }, (_, i) => ({ key: 'k', value: `m-${i}` })),
    );
    return topic;
  }

  /** A member of `groupId` that records what it reads and commits only when told (autoCommit off). */
  async function reader(topic: string, groupId = uniqueName('g')) {
    const offsets: string[] = [];
    const consumer = await bus.consume({
      topic,
      groupId,
      autoCommit: false,
      eachBatch: async (b) => {
        offsets.push(...b.messages.map((m) => m.offset));
      },
    });
    consumers.push(consumer);
    return { offsets, consumer, groupId };
  }

  const held = async (topic: string) =>
    (
      await db.pool.query<{ offset: string }>(`select "offset"::text from bus.messages where topic = $1 order by "offset"`, [topic])
    ).rows.map((r) => Number(r.offset));
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

  test(
    'two groups: only what both committed past is deleted, the message at the slower one’s committed offset − 1 survives, and offsets go on without reuse',
    LONG,
    async () => {
      const topic = await topicOf(10);
      const [fast, slow] = [await reader(topic), await reader(topic)];
      await eventually('both groups read the 10 messages', () => fast.offsets.length === 10 && slow.offsets.length === 10);
      await fast.consumer.commit(0, '8');
      await slow.consumer.commit(0, '5');

      assert.deepEqual(await bus.trim(topic), [{ topic, partition: 0, deleted: 4 }]);
      assert.deepEqual(await held(topic), range(4, 10), 'offset 4 (the slower group committed 5) is kept');
      assert.deepEqual(await bus.bounds(topic), [{ partition: 0, start: '4', end: '10' }]);
      assert.deepEqual(await bus.trim(topic), [{ topic, partition: 0, deleted: 0 }], 'a second trim finds nothing more');

      await bus.publish(topic, [{ key: 'k', value: 'after' }]);
      await eventually('the new message read by both', () => fast.offsets.includes('10') && slow.offsets.includes('10'));
      assert.deepEqual(await bus.bounds(topic), [{ partition: 0, start: '4', end: '11' }], 'the next offset, never one trimmed');

      await Promise.all([fast.consumer.commit(0, '11'), slow.consumer.commit(0, '11')]);
      await bus.trim(topic);
      assert.deepEqual(await held(topic), [10], 'all read: only the last message, at committed − 1, is kept');
      assert.equal(await bus.lag(topic, slow.groupId), 0);
    },
  );

  test('a group that has joined but committed nothing keeps everything, as does a topic no group reads', LONG, async () => {
    const topic = await topicOf(6);
    const done = await reader(topic);
    const idle = await reader(topic);
    await eventually('both groups read the 6 messages', () => done.offsets.length === 6 && idle.offsets.length === 6);
    await done.consumer.commit(0, '6');
    assert.deepEqual(await bus.trim(topic), [{ topic, partition: 0, deleted: 0 }]);
    assert.deepEqual(await held(topic), range(0, 6));

    const unread = await topicOf(6);
    assert.deepEqual(await bus.trim(unread), [{ topic: unread, partition: 0, deleted: 0 }]);
    assert.deepEqual(await held(unread), range(0, 6));
  });

  test('reading below a trimmed partition’s start (a new group, or { readFrom: "0" }) starts at its first message held', LONG, async () => {
    const topic = await topicOf(8);
    const first = await reader(topic);
    await eventually('the 8 messages', () => first.offsets.length === 8);
    await first.consumer.commit(0, '6');
    await bus.trim(topic);
    assert.deepEqual((await bus.bounds(topic))[0]?.start, '5');

    const late = await reader(topic);
    await eventually('the late group reads what is held', () => late.offsets.length === 3);
    assert.deepEqual(late.offsets, ['5', '6', '7']);

    const firsts: string[] = [];
    let answered = false;
    consumers.push(
      await bus.consume({
        topic,
        groupId: uniqueName('again'),
        eachBatch: async (b: Batch) => {
          firsts.push(b.messages[0]!.offset);
          if (answered) return;
          answered = true;
          return { readFrom: '0' };
        },
      }),
    );
    await eventually('read again after { readFrom: "0" }', () => firsts.length === 2);
    assert.deepEqual(firsts, ['5', '5']);
  });

  test('a backlog larger than one statement’s share is trimmed in full, a statement at a time', LONG, async () => {
    const topic = await topicOf(45_000);
    const r = await reader(topic);
    await eventually('the backlog read', () => r.offsets.length === 45_000, 60_000);
    await r.consumer.commit(0, '45000');
    assert.deepEqual(await bus.trim(topic), [{ topic, partition: 0, deleted: 44_999 }]);
    assert.deepEqual(await held(topic), [44_999]);
  });
});

describe('embedded bus trimming by itself', () => {
  busTest(
    'a bus given trimEveryMs trims the topics it consumes, logging count#bus.trimmed_messages',
    'bustrimloop',
    async ({ db, bus, lines }) => {
      const topic = uniqueName('loop');
      await bus.ensureTopic(topic, 2);
      await bus.publish(
        topic,
        Array.from({ length: 20 }, (_, i) => ({ key: `k-${i}`, value: `m-${i}` })),
      );
      await bus.consume({ topic, groupId: uniqueName('g'), eachBatch: async () => {} });
      // Every message committed: each partition that got any keeps only its last.
      const trimmed = () =>
        lines.filter((l) => l.event === 'bus.trimmed').reduce((n, l) => n + Number(l.fields['count#bus.trimmed_messages']), 0);
      const written = (await bus.bounds(topic)).filter((b) => b.end !== '0').length;
      await eventually(
        () => `20 − ${written} messages trimmed, got ${trimmed()}`,
        () => trimmed() === 20 - written,
      );
      const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from bus.messages where topic = $1', [topic]);
      assert.equal(rows[0]?.n, written);
      assert.ok(
        lines.some((l) => l.event === 'bus.trimmed' && l.fields.topic === topic),
        'the line names the topic',
      );
    },
    { trimEveryMs: 100 },
  );
});

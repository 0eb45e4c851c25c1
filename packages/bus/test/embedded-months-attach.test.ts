import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type pg from 'pg';
import { eventually, uniqueName } from '@vault/testkit';
import { FETCH } from '../src/embedded-consumer-sql.ts';
import { maintainMonths, type MonthsMaintained } from '../src/embedded-months.ts';
import { busTest, type BusUnderTest } from './embedded-fixture.ts';
import { publish, strings, thisAndNext, where } from './months-fixture.ts';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Gives the messages of `topic` at `offsets` the publish time `at`, moving them to its month (or DEFAULT). */
async function moveTo(t: BusUnderTest, topic: string, at: string, offsets: number[]): Promise<void> {
  await t.db.pool.query(`update bus.messages set published_at = $3 where topic = $1 and "offset" = any($2::bigint[])`, [
    topic,
    offsets,
    at,
  ]);
}

/** Waits until a session of the test's database matching `where` waits for a lock. */
const waitsForLock = (t: BusUnderTest, what: string, where: string) =>
  eventually(what, async () => {
    const { rowCount } = await t.db.pool.query(
      `select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and ${where}`,
    );
    return (rowCount ?? 0) > 0;
  });

/**
 * With `reading` holding a read of DEFAULT open (its transaction begun by the
 * caller) and `round` under way: once the round waits at the attach of
 * `table`, starts the consumer's own fetch of `topic`'s partition 0 from
 * `from` (up to 2000, as the consumer asks), lets the attach go once the fetch
 * waits too, and gives what each ended with.
 */
async function fetchDuringAttach(
  t: BusUnderTest,
  reading: pg.PoolClient,
  round: Promise<MonthsMaintained>,
  table: string,
  topic: string,
  from: number,
) {
  const outcome = round.catch((err: Error) => err);
  const { incarnation } = (await t.db.pool.query('select incarnation::text from bus.topics where topic = $1', [topic])).rows[0];
  const fetching = await t.db.pool.connect();
  try {
    await waitsForLock(
      t,
      `the round waits at the attach of ${table}`,
      `query like 'alter table bus.messages attach partition bus.${table} %'`,
    );
    const pid = (await fetching.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const fetched = fetching.query<{ offset: string }>(FETCH, [topic, 0, String(from), 2000, incarnation]).catch((err: Error) => err);
    await waitsForLock(t, 'the fetch waits for a lock', `pid = ${pid}`);
    await reading.query('rollback');
    const rows = await fetched;
    if (rows instanceof Error) throw rows;
    return { round: await outcome, offsets: rows.rows.map((r) => r.offset) };
  } finally {
    fetching.release();
  }
}

describe('embedded bus monthly partitions: a fetch racing the attach of a month (real PostgreSQL)', () => {
  busTest(
    'a fetch that arrives while a month DEFAULT holds rows of is attached reads every row of it: its offsets are dense',
    'busmonthsattach',
    async (t) => {
      const topic = uniqueName('attach');
      await publish(t, topic, 200, { '2025-10-15T00:00:00Z': range(0, 200) });
      await maintainMonths(t.db.pool);
      // No round since: 100–149 (December) and 150–199 (January) wait in DEFAULT; October holds 0–99.
      await moveTo(t, topic, '2025-12-10T00:00:00Z', range(100, 150));
      await moveTo(t, topic, '2026-01-10T00:00:00Z', range(150, 200));
      assert.deepEqual(
        (await where(t.db, topic)).filter((r) => r.month === 'bus.messages_default').map((r) => r.offset),
        range(100, 200),
      );

      const reading = await t.db.pool.connect();
      try {
        // Holds the attach (it needs DEFAULT alone) until the fetch has arrived.
        await reading.query('begin; select count(*) from bus.messages_default');
        const { round, offsets } = await fetchDuringAttach(t, reading, maintainMonths(t.db.pool), 'messages_2025_12', topic, 90);
        assert.deepEqual(round, { created: ['messages_2025_12', 'messages_2026_01'], moved: 100, dropped: [] });
        assert.deepEqual(offsets, strings(90, 200), 'no hole: the fetch reads December’s rows in their new partition');
      } finally {
        await reading.query('rollback').catch(() => {});
        reading.release();
      }
    },
  );

  busTest(
    'a month the round found nothing to move for, whose rows reached DEFAULT before its step, is attached as one with rows: the fetch has no hole',
    'busmonthslate',
    async (t) => {
      const { current, next, nextStart } = await thisAndNext(t.db);
      // As if a month had passed since the last round: the next month has no partition yet.
      await t.db.pool.query(`alter table bus.messages detach partition bus.${next}; drop table bus.${next}`);
      const topic = uniqueName('late');
      await publish(t, topic, 20);
      assert.deepEqual(new Set((await where(t.db, topic)).map((r) => r.month)), new Set([`bus.${current}`]));

      const reading = await t.db.pool.connect();
      const lock = `select pg_advisory_lock(hashtext('bus.messages months'))`;
      const unlock = `select pg_advisory_unlock(hashtext('bus.messages months'))`;
      try {
        // Holds the round's first step back (the maintenance lock) once it has looked at DEFAULT, found empty.
        await reading.query(`begin; ${lock}`);
        const round = maintainMonths(t.db.pool);
        await waitsForLock(
          t,
          'the round waits for the maintenance lock',
          `wait_event = 'advisory' and query like 'select pg_advisory_xact_lock%'`,
        );
        await moveTo(t, topic, nextStart, range(10, 15));
        await reading.query(`select count(*) from bus.messages_default; ${unlock}`);
        const { round: done, offsets } = await fetchDuringAttach(t, reading, round, next, topic, 5);
        assert.deepEqual(done, { created: [next], moved: 5, dropped: [] });
        assert.deepEqual(offsets, strings(5, 20), 'no hole: the fetch reads the moved rows in their new partition');
      } finally {
        await reading.query('rollback').catch(() => {});
        await reading.query(unlock).catch(() => {});
        reading.release();
      }
    },
  );
});

describe('embedded bus: the consumer never hands a batch with a hole (real PostgreSQL)', () => {
  busTest(
    'a fetch with offsets missing inside it is handed up to the hole (bus.fetch_gap logged), and the next fetch starts at the hole',
    'busfetchgap',
    async (t) => {
      const topic = uniqueName('gap');
      const group = uniqueName('g');
      await publish(t, topic, 10);
      // Offsets are dense in a partition; rows deleted by hand make a hole the way a raced read would.
      await t.db.pool.query(`delete from bus.messages where topic = $1 and "offset" in (4, 5)`, [topic]);
      const batches: string[][] = [];
      const consumer = await t.bus.consume({
        topic,
        groupId: group,
        eachBatch: async (b) => {
          batches.push(b.messages.map((m) => m.offset));
        },
      });
      t.consumers.push(consumer);
      await eventually(
        () => `every message read, got ${JSON.stringify(batches)}`,
        () => batches.flat().length >= 8,
      );
      assert.deepEqual(batches, [
        ['0', '1', '2', '3'],
        ['6', '7', '8', '9'],
      ]);
      assert.deepEqual(
        t.lines.filter((l) => l.event === 'bus.fetch_gap').map((l) => l.fields),
        [{ group, topic, partition: 0, expected: '4', got: '6', 'count#bus.fetch_gaps': 1 }],
      );
    },
  );
});

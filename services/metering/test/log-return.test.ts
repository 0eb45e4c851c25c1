// Metering goes back to a log it read before (the embedded bus, then Kafka,
// then the embedded bus again), after that log was trimmed below where it
// left it. The other log here is a second embedded bus, in a database of its
// own: another bus id, so another log, and no Kafka needed. Real PostgreSQL.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createEmbeddedBus, type EmbeddedBus } from '@vault/bus';
import { freshDatabase, uniqueName, type TestDatabase } from '@vault/testkit';
import { billingStream } from '../bench/stream.ts';
import { readCounters } from '../src/reports/store.ts';
import { meteringDatabase } from './harness.ts';
import { assertExactlyOnce, runMetering } from './log-harness.ts';

const LONG = { timeout: 180_000 };
const stream = (prefix: string, events: number) => [...billingStream({ events, seed: 23, prefix, duplicateRate: 0 })];

describe('metering back on a log it left, which was trimmed meanwhile (real PostgreSQL, two embedded buses)', () => {
  const open: { dbs: TestDatabase[]; buses: EmbeddedBus[] } = { dbs: [], buses: [] };
  after(async () => {
    for (const b of open.buses) await b.close();
    for (const d of open.dbs) await d.drop();
  });

  /** Metering's database with its embedded bus, and another embedded bus (another log) in a database of its own. */
  async function twoLogs() {
    const db = await meteringDatabase();
    const other = await freshDatabase('bus');
    open.dbs.push(db, other);
    const home = await createEmbeddedBus({ pool: db.pool, url: db.url });
    const away = await createEmbeddedBus({ pool: other.pool, url: other.url });
    open.buses.push(home, away);
    return { db, home, away };
  }

  const positions = async (db: TestDatabase, topic: string) =>
    (
      await db.pool.query<{ partition: number; next_offset: string }>(
        'select partition, next_offset::text from metering.consumer_positions where topic = $1 order by partition',
        [topic],
      )
    ).rows;

  test(
    'each partition resumes where metering left the log: no hole logged for the trimmed prefix, nothing applied twice, every later event applied',
    LONG,
    async () => {
      const { db, home, away } = await twoLogs();
      const topic = uniqueName('billing');
      const group = uniqueName('metering');
      const all = stream(uniqueName('back'), 1_000);
      const [first, elsewhere, later] = [all.slice(0, 500), all.slice(500, 700), all.slice(700)];

      await home.ensureTopic(topic, 3);
      await home.publish(topic, first);
      const one = await runMetering(db, home, topic, group);
      await one.drained(first.length);
      await one.stop();
      const left = await positions(db, topic);
      const homeLog = (await home.describeLog(topic)).id;

      await away.ensureTopic(topic, 3);
      await away.publish(topic, elsewhere);
      const two = await runMetering(db, away, topic, group);
      await two.drained(first.length + elsewhere.length);
      await two.stop();
      const awayLog = (await away.describeLog(topic)).id;

      // What every group read, trimmed (BUS_TRIM_EVERY_SECONDS): each partition keeps the message before its position.
      const trimmed = await home.trim(topic);
      assert.equal(
        trimmed.reduce((n, t) => n + t.deleted, 0),
        first.length - 3,
      );
      await home.publish(topic, later);
      const three = await runMetering(db, home, topic, group);
      const final = await three.drained(all.length);
      await three.stop();

      assert.deepEqual(
        three.lines.filter((l) => l.includes('event=metering.log_hole')),
        [],
        'nothing was lost',
      );
      await assertExactlyOnce(db, final, all);
      const readFrom = three.lines.filter((l) => l.includes('event=metering.read_from'));
      assert.deepEqual(
        readFrom.map((l) => `${/partition=(\d+)/.exec(l)?.[1]}:${/offset=(\d+)/.exec(l)?.[1]}`).sort(),
        left.map((p) => `${p.partition}:${BigInt(p.next_offset) - 1n}`),
        'each partition asked once for the message before where metering left it, never for 0',
      );
      const changes = final.log_changes.filter((c) => c.to_log === homeLog);
      assert.deepEqual(
        changes
          .filter((c) => c.partition !== null)
          .map((c) => [c.partition, c.from_log, c.reason, /^resumed at offset \d+, where metering left this log/.exec(c.action)?.[0]])
          .sort(),
        left.map((p) => [
          p.partition,
          awayLog,
          'the batch comes from another log',
          `resumed at offset ${p.next_offset}, where metering left this log`,
        ]),
      );
      assert.match(changes.find((c) => c.partition === null)?.action ?? '', /^3 partition\(s\) resume where metering left this log/);
      assert.ok(three.lines.some((l) => l.includes('event=metering.log_changed') && l.includes('resumed at offset')));
      const kept = await db.pool.query('select 1 from metering.left_positions where topic = $1 and log = $2', [topic, homeLog]);
      assert.equal(kept.rowCount, 0, 'each left position taken back by the batch that resumed from it');
    },
  );

  test('messages after the position metering left that the log no longer holds are a hole of exactly those', LONG, async () => {
    const { db, home, away } = await twoLogs();
    const topic = uniqueName('billing');
    const group = uniqueName('metering');
    const all = stream(uniqueName('lost'), 120);
    const [first, unread, elsewhere, later] = [all.slice(0, 60), all.slice(60, 80), all.slice(80, 110), all.slice(110)];

    await home.ensureTopic(topic, 1);
    await home.publish(topic, first);
    const one = await runMetering(db, home, topic, group);
    await one.drained(first.length);
    await one.stop();
    assert.deepEqual(await positions(db, topic), [{ partition: 0, next_offset: '60' }]);
    // Published while metering reads elsewhere: offsets 60–79, never read.
    await home.publish(topic, unread);

    await away.ensureTopic(topic, 1);
    await away.publish(topic, elsewhere);
    const two = await runMetering(db, away, topic, group);
    await two.drained(first.length + elsewhere.length);
    await two.stop();

    // Deleted below 68 (by hand, as retention would): the message at 59 and the first 8 metering never read.
    await db.pool.query(`delete from bus.messages where topic = $1 and "offset" < 68`, [topic]);
    await home.publish(topic, later);
    const three = await runMetering(db, home, topic, group);
    const final = await three.drained(all.length - 8);
    await three.stop();

    const holes = three.lines.filter((l) => l.includes('event=metering.log_hole'));
    assert.equal(holes.length, 1, holes.join('\n'));
    assert.match(holes[0]!, /count#metering\.messages_lost=8 first=68/);
    assert.deepEqual([final.events_applied, final.events_duplicate], [all.length - 8, 0]);
    assert.equal((await readCounters(db.pool)).events_applied, all.length - 8);
  });
});

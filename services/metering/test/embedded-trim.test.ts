import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createEmbeddedBus, type EmbeddedBus } from '@vault/bus';
import { eventually, freePort, startService, uniqueName, type TestDatabase } from '@vault/testkit';
import { billingStream } from '../bench/stream.ts';
import { ADMIN, meteringDatabase } from './harness.ts';
import { assertExactlyOnce, runMetering } from './log-harness.ts';

// A first wave read by metering, a trim, then a second wave (re-sends of the
// first wave's start and new events) read by a restarted consumer.
const all = [...billingStream({ events: 1_000, seed: 19, prefix: uniqueName('trimmed'), duplicateRate: 0 })];
const first = all.slice(0, 700);
const second = [...first.slice(0, 100), ...all.slice(700)];
const published = [...first, ...second];

describe('metering over a trimmed embedded bus (real PostgreSQL)', () => {
  const open: { db?: TestDatabase; bus?: EmbeddedBus } = {};
  after(async () => {
    await open.bus?.close();
    await open.db?.drop();
  });

  test('after a trim and a restart the consumer checks the message at its position, still held, never reads the log from 0, and every event is applied exactly once', {
    timeout: 180_000,
  }, async () => {
    const db = (open.db = await meteringDatabase());
    const bus = (open.bus = await createEmbeddedBus({ pool: db.pool, url: db.url }));
    const topic = uniqueName('billing');
    const group = uniqueName('metering');
    await bus.ensureTopic(topic, 3);
    await bus.publish(topic, first);
    const one = await runMetering(db, bus, topic, group);
    await one.drained(first.length);
    await one.stop();

    const positions = async () =>
      (
        await db.pool.query<{ partition: number; next_offset: string }>(
          'select partition, next_offset::text from metering.consumer_positions where topic = $1 order by partition',
          [topic],
        )
      ).rows;
    const before = await positions();
    // Metering commits on the bus after its own transaction: the group's offset is its stored position.
    assert.deepEqual(
      (await bus.bounds(topic)).map((b) => ({ partition: b.partition, next_offset: b.end })),
      before,
    );
    assert.equal(await bus.lag(topic, group), 0);
    const trimmed = await bus.trim(topic);
    assert.equal(
      trimmed.reduce((n, t) => n + t.deleted, 0),
      first.length - 3,
      'all but each partition’s last message',
    );
    assert.deepEqual(
      (await bus.bounds(topic)).map((b) => b.start),
      before.map((p) => String(BigInt(p.next_offset) - 1n)),
    );

    await bus.publish(topic, second);
    const two = await runMetering(db, bus, topic, group);
    const final = await two.drained(published.length);
    await two.stop();
    await assertExactlyOnce(db, final, published);

    const readFrom = two.lines.filter((l) => l.includes('event=metering.read_from'));
    assert.deepEqual(
      readFrom.map((l) => /partition=(\d+)/.exec(l)?.[1] + ':' + /offset=(\d+)/.exec(l)?.[1]).sort(),
      before.map((p) => `${p.partition}:${BigInt(p.next_offset) - 1n}`),
      'each partition asked once for the message at its position − 1, never for 0',
    );
    const skipped = two.lines.reduce((n, l) => n + Number(/count#metering\.replayed_skipped=(\d+)/.exec(l)?.[1] ?? 0), 0);
    assert.equal(skipped, before.length, 'the message at each position − 1 read again, found the same, and skipped');
    assert.deepEqual(
      two.lines.filter((l) => /event=metering\.log_(changed|hole)/.test(l)),
      [],
    );
    assert.deepEqual(final.log_changes, []);
  });

  test('the metering process on the embedded bus trims it by itself every BUS_TRIM_EVERY_SECONDS, logging count#bus.trimmed_messages', {
    timeout: 120_000,
  }, async () => {
    const db = await meteringDatabase();
    const bus = await createEmbeddedBus({ pool: db.pool, url: db.url });
    const topic = uniqueName('billing');
    await bus.ensureTopic(topic, 3);
    await bus.publish(topic, first.slice(0, 300));
    const metering = await startService('metering', {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: '',
      BILLING_EVENTS_TOPIC: topic,
      METERING_CONSUMER_GROUP: uniqueName('metering'),
      BUS_TRIM_EVERY_SECONDS: '0.2',
      HOST: '127.0.0.1',
      ADMIN_TOKEN: ADMIN,
      METERING_PORT: String(await freePort()),
    });
    try {
      const trimmed = () =>
        metering.lines
          .filter((l) => l.includes('event=bus.trimmed'))
          .reduce((n, l) => n + Number(/count#bus\.trimmed_messages=(\d+)/.exec(l)?.[1] ?? 0), 0);
      // Every message read and committed: each partition keeps only its last.
      await eventually(
        () => `297 messages trimmed, ${trimmed()} so far`,
        () => trimmed() === 297,
        60_000,
      );
      const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from bus.messages where topic = $1', [topic]);
      assert.equal(rows[0]?.n, 3);
    } finally {
      await metering.kill('SIGTERM');
      await bus.close();
      await db.drop();
    }
  });
});

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createKafkaBus } from '@vault/bus';
import { MeteringStats } from '@vault/contracts';
import { testKafkaBrokers, uniqueName, type TestDatabase } from '@vault/testkit';
import { spawnMetering } from '../bench/metering-process.ts';
import { billingStream, type StreamMessage } from '../bench/stream.ts';
import { applyInOrder } from './log-harness.ts';
import { readCounters, readMessageCounts } from '../src/reports/store.ts';
import { assertConservation, countBy, heldPerPartition, sourceOf } from './conservation.ts';
import { ADMIN, meteringDatabase, usageOf } from './harness.ts';

const WAVES = 4;
// Large enough that a wave takes several batches (2,000 at most each), so a
// kill after the first few always lands while work remains.
const PER_WAVE = 16_000;

describe('metering is crash-only (real Kafka broker, real PostgreSQL, SIGKILL)', () => {
  const databases: TestDatabase[] = [];
  after(() => Promise.all(databases.map((d) => d.drop())));

  test('killed with SIGKILL at random moments while consuming, it ends with exactly the usage and counters of one clean pass', {
    timeout: 300_000,
  }, async (t) => {
    const killed = await meteringDatabase();
    const clean = await meteringDatabase();
    databases.push(killed, clean);

    const stream = [...billingStream({ events: WAVES * PER_WAVE, seed: 7, prefix: uniqueName('crash') })];
    const waves: StreamMessage[][] = [];
    for (let w = 0; w < WAVES; w++) waves.push(stream.slice(w * PER_WAVE, (w + 1) * PER_WAVE));
    // Days later, a publisher re-sends a chunk of the first wave.
    waves[2]!.unshift(...stream.slice(1_000, 2_000));
    const published = waves.flat();

    const topic = uniqueName('crash-billing');
    const bus = await createKafkaBus({ brokers: testKafkaBrokers(), clientId: 'crash-test' });
    await bus.ensureTopic(topic, 3);
    const env = {
      DATABASE_URL: killed.url,
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      BILLING_EVENTS_TOPIC: topic,
      METERING_CONSUMER_GROUP: uniqueName('metering'),
      ADMIN_TOKEN: ADMIN,
      HOST: '127.0.0.1',
    };

    // A broker takes at most 1 MiB per record batch.
    const publishInChunks = async (messages: StreamMessage[]) => {
      for (let i = 0; i < messages.length; i += 5_000) await bus.publish(topic, messages.slice(i, i + 5_000));
    };
    const kills: string[] = [];
    try {
      for (let w = 0; w < WAVES - 1; w++) {
        const run = await spawnMetering(env);
        await publishInChunks(waves[w]!);
        // A random moment: after 1 to 3 applied batches and a random pause, mid-transaction or between.
        const target = 1 + Math.floor(Math.random() * 3);
        await run.until('the process applying batches', () => run.batches.length >= target, 90_000);
        await new Promise((r) => setTimeout(r, Math.random() * 60));
        await run.kill('SIGKILL');
        const sent = waves.slice(0, w + 1).reduce((n, wave) => n + wave.length, 0);
        const c = await readCounters(killed.pool);
        const done = c.events_applied + c.events_duplicate + c.events_rejected;
        kills.push(`wave ${w + 1}: killed after ${run.batches.length} batches with ${sent - done} of ${sent} messages left`);
        assert.ok(done < sent, `the kill of wave ${w + 1} must cut consumption short (${done} of ${sent} done)`);
      }
      const last = await spawnMetering(env);
      await publishInChunks(waves[WAVES - 1]!);

      // The reference: the same messages through one clean pass, no crash.
      await applyInOrder(clean.pool, published, 'clean-log');
      const expected = await readCounters(clean.pool);
      assert.equal(expected.events_applied + expected.events_duplicate, published.length);

      await last.until(
        'the restarted process to drain the topic',
        async () => {
          const res = await fetch(`http://127.0.0.1:${last.port}/v1/stats`, { headers: { authorization: `Bearer ${ADMIN}` } }).catch(
            () => undefined,
          );
          if (!res?.ok) return false;
          const s = MeteringStats.parse(await res.json());
          return s.consumer_lag === 0 && s.events_applied + s.events_duplicate + s.events_rejected >= published.length;
        },
        180_000,
      );
      await last.kill('SIGTERM');

      t.diagnostic(kills.join('; '));
      assert.deepEqual(await readCounters(killed.pool), expected, `counters after ${kills.join('; ')}`);
      const [got, want] = [await usageOf(killed), await usageOf(clean)];
      assert.equal(got.intervals.length, want.intervals.length);
      assert.deepEqual(got, want, 'usage equals one clean pass: nothing lost, nothing doubled');

      // Conservation: per partition, read = applied + duplicate + rejected = the messages it holds;
      // per source, the same sum = the messages published for it, ending as they did in the clean pass.
      const held = await heldPerPartition(testKafkaBrokers(), topic);
      assert.equal(
        [...held.values()].reduce((a, b) => a + b, 0),
        published.length,
        'the topic holds each published message once',
      );
      const counted = await assertConservation(killed.pool, topic, { held, sources: countBy(published, (m) => sourceOf(m.value)) });
      const outcomes = (rows: typeof counted.sources) => rows.map(({ read: _, ...outcome }) => outcome);
      assert.deepEqual(
        outcomes(counted.sources),
        outcomes((await readMessageCounts(clean.pool)).sources),
        'per source, the outcomes of one clean pass',
      );
    } finally {
      await bus.close();
    }
  });
});

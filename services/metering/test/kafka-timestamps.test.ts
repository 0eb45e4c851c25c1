// The 5-minute future rule on Kafka: judged by when a message reached the broker
// (LogAppendTime, the topic metering makes) or, for a timestamp the producer chose
// (CreateTime, a topic made before), by metering's own clock: a producer's slow clock
// (or a tool setting `timestamp`) used to reject valid, current events.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { testKafkaBrokers, uniqueName } from '@vault/testkit';
import { AUTH, settled, startPublishing, type Metering } from './harness.ts';

const LONG = { timeout: 120_000 };
const HOUR_MS = 3_600_000;

let serial = 0;
/** A valid dyno.started at `timeMs`, as a kafkajs message stamped `timestampMs` by its producer. */
function started(timeMs: number, timestampMs: number) {
  const subject = `dyno-ts-${++serial}-${Date.now()}`;
  const event = {
    specversion: '1.0',
    id: `${subject}-a`,
    source: 'dyno-manager',
    type: 'dyno.started',
    time: new Date(timeMs).toISOString(),
    subject,
    sequence: 1,
    data: { app_id: 'app-ts', name: 'web.1', size: 'standard-1x' },
  };
  return { event, message: { key: subject, value: JSON.stringify(event), timestamp: String(timestampMs) } };
}

type Rejected = { event_id: string | null; reasons: { field: string; code: string; message: string }[] };
const rejectedList = async (m: Metering) =>
  ((await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json() as { rejected: Rejected[] }).rejected;
const applied = async (m: Metering, id: string) =>
  (await m.db.pool.query('select 1 from metering.event_keys where source = $1 and id = $2', ['dyno-manager', id])).rowCount === 1;

describe('metering on Kafka: the 5-minute future rule never judges by a timestamp the producer chose (real broker)', () => {
  describe('on the topic metering makes', () => {
    let m: Metering;
    let producer: Producer;
    let close: (() => Promise<void>) | undefined;
    before(async () => {
      ({ m, producer, close } = await startPublishing('ts-made-by-metering'));
    });
    after(() => close?.());

    test(
      'the topic is made with message.timestamp.type=LogAppendTime; an event a minute old stamped an hour back is applied',
      LONG,
      async () => {
        const admin = new Kafka({ brokers: testKafkaBrokers(), clientId: uniqueName('ts-admin'), logLevel: logLevel.NOTHING }).admin();
        await admin.connect();
        try {
          const { resources } = await admin.describeConfigs({
            resources: [{ type: 2, name: m.topic, configNames: ['message.timestamp.type'] }],
            includeSynonyms: false,
          });
          assert.equal(resources[0]!.configEntries.find((e) => e.configName === 'message.timestamp.type')?.configValue, 'LogAppendTime');
        } finally {
          await admin.disconnect();
        }
        const now = Date.now();
        const { event, message } = started(now - 60_000, now - HOUR_MS);
        await producer.send({ topic: m.topic, messages: [message] });
        await settled(m, 1, 0, 0);
        assert.ok(await applied(m, event.id));
      },
    );
  });

  describe('on a topic made before metering (CreateTime: the producer’s timestamp)', () => {
    let m: Metering;
    let producer: Producer;
    let close: (() => Promise<void>) | undefined;
    before(async () => {
      ({ m, producer, close } = await startPublishing('ts-made-before', { topicMadeBefore: true }));
    });
    after(() => close?.());

    test(
      'an event a minute old stamped an hour back is applied; one an hour ahead stamped two hours ahead is rejected by metering’s clock',
      LONG,
      async () => {
        const now = Date.now();
        const valid = started(now - 60_000, now - HOUR_MS);
        const ahead = started(now + HOUR_MS, now + 2 * HOUR_MS);
        await producer.send({ topic: m.topic, messages: [valid.message, ahead.message] });
        await settled(m, 1, 0, 1);
        assert.ok(await applied(m, valid.event.id), 'the producer’s slow timestamp rejects nothing');
        const kept = (await rejectedList(m)).find((r) => r.event_id === ahead.event.id);
        assert.equal(kept?.reasons[0]?.code, 'time_in_future', JSON.stringify(kept));
        // The clock it names is metering's (now, within the test's minutes), not the producer's two hours ahead.
        const named = Date.parse(/\(([^)]+)\)/.exec(kept!.reasons[0]!.message)![1]!);
        assert.ok(named >= now - 60_000 && named <= Date.now() + 60_000, kept!.reasons[0]!.message);
      },
    );
  });
});

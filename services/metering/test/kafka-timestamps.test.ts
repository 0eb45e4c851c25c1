// The 5-minute future rule on Kafka: judged by when a message reached the broker
// (LogAppendTime: the topic metering makes, and one made before that metering switches
// at its start). A producer's stamp (CreateTime) only ever makes the rule stricter,
// however far behind the consumer is: min(stamp, metering's clock).
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

/** The topic's message.timestamp.type as the broker describes it. */
async function timestampType(topic: string): Promise<string | undefined> {
  const admin = new Kafka({ brokers: testKafkaBrokers(), clientId: uniqueName('ts-admin'), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({
      resources: [{ type: 2, name: topic, configNames: ['message.timestamp.type'] }],
      includeSynonyms: false,
    });
    return resources[0]!.configEntries.find((e) => e.configName === 'message.timestamp.type')?.configValue;
  } finally {
    await admin.disconnect();
  }
}

describe('metering on Kafka: the 5-minute future rule is judged by the broker’s stamp (real broker)', () => {
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
        assert.equal(await timestampType(m.topic), 'LogAppendTime');
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
    const start = Date.now();
    // Published before metering starts, stamped by its producer 20 minutes back: the event is 10 minutes
    // after that stamp (future-dated when published) though 10 minutes before metering reads it.
    const lagged = started(start - 10 * 60_000, start - 20 * 60_000);
    before(async () => {
      ({ m, producer, close } = await startPublishing('ts-made-before', {
        topicMadeBefore: true,
        beforeStart: async (topic, p) => {
          await p.send({ topic, messages: [lagged.message] });
        },
      }));
    });
    after(() => close?.());

    test('metering switches it to LogAppendTime at its start, logging it once', LONG, async () => {
      assert.equal(await timestampType(m.topic), 'LogAppendTime');
      const set = m.log.lines.filter((l) => l.includes('event=metering.topic_timestamps_set'));
      assert.equal(set.length, 1, m.log.lines.join('\n'));
      assert.match(set[0]!, new RegExp(`topic=${m.topic}\\b.* was=CreateTime`));
    });

    test(
      'a record stamped T before the switch whose event is T+10m is rejected by its stamp though metering reads it at T+20m',
      LONG,
      async () => {
        await settled(m, 0, 0, 1);
        const kept = (await rejectedList(m)).find((r) => r.event_id === lagged.event.id);
        assert.equal(kept?.reasons[0]?.code, 'time_in_future', JSON.stringify(kept));
        assert.match(kept!.reasons[0]!.message, new RegExp(`\\(${new Date(start - 20 * 60_000).toISOString().replace('.', '\\.')}\\)`));
      },
    );

    test('after the switch, an event a minute old stamped an hour back by its producer is applied (the broker’s stamp)', LONG, async () => {
      const now = Date.now();
      const valid = started(now - 60_000, now - HOUR_MS);
      await producer.send({ topic: m.topic, messages: [valid.message] });
      await settled(m, 1, 0, 1);
      assert.ok(await applied(m, valid.event.id));
    });
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloudEvent, Kafka as CloudEventsKafka, type KafkaMessage } from 'cloudevents';
import type { Message, Producer } from 'kafkajs';
import { AUTH, settled, startPublishing, stats, usageOf, type Metering } from './harness.ts';

// A platform publisher on Kafka builds its messages with the CloudEvents SDK's
// Kafka binding and sends them with kafkajs to the real broker; the running
// metering consumes them.
const LONG = { timeout: 120_000 };

let m: Metering;
let producer: Producer;
let close: (() => Promise<void>) | undefined;
before(async () => {
  ({ m, producer, close } = await startPublishing('ce-publisher'));
});
after(() => close?.());

type Event = CloudEvent<Record<string, string>>;
let serial = 0;
/** One dyno's two events, keyed by subject through the SDK's `partitionkey` (events-v1.md: key = subject). */
function dyno(): [Event, Event] {
  const subject = `dyno-ce-kafka-${++serial}`;
  const common = { source: 'dyno-manager', subject, partitionkey: subject };
  return [
    new CloudEvent<Record<string, string>>({
      ...common,
      id: `${subject}-a`,
      type: 'dyno.started',
      time: '2026-10-03T14:00:00.000Z',
      sequence: 1,
      data: { app_id: 'app-ce-kafka', name: 'web.1', size: 'standard-1x' },
    }),
    new CloudEvent<Record<string, string>>({
      ...common,
      id: `${subject}-b`,
      type: 'dyno.stopped',
      time: '2026-10-03T16:00:00.000Z',
      sequence: 2,
      data: { app_id: 'app-ce-kafka' },
    }),
  ];
}

/**
 * The SDK's Kafka message as kafkajs can send it. The binding leaves
 * attributes the event lacks as undefined headers (kafkajs throws on them) and
 * binary mode's value as the data object (kafkajs would send "[object Object]"):
 * the glue every publisher writes.
 */
function forKafkajs(message: KafkaMessage<unknown>): Message {
  const headers = Object.fromEntries(Object.entries(message.headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])));
  const value = typeof message.value === 'string' || Buffer.isBuffer(message.value) ? message.value : JSON.stringify(message.value);
  return { key: message.key ?? null, value, headers };
}
const publish = (messages: KafkaMessage<unknown>[]) => producer.send({ topic: m.topic, messages: messages.map(forKafkajs) });

const rejectedList = async () =>
  (
    (await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json() as {
      rejected: { id: string; raw: string; event_id: string | null; reasons: { field: string; code: string; message: string }[] }[];
    }
  ).rejected;

describe('metering on Kafka: the CloudEvents Kafka binding, structured and binary (real broker, real PostgreSQL)', () => {
  test(
    "the SDK's structured (compact and pretty-printed) and binary messages are applied once each; a copy in the other mode is a duplicate",
    LONG,
    async () => {
      const [a1, a2] = dyno();
      const [b1, b2] = dyno();
      const [c1, c2] = dyno();
      const pretty = { ...CloudEventsKafka.structured(c1), value: JSON.stringify(c1, null, 2) };
      assert.equal(CloudEventsKafka.binary(b1).headers.ce_sequence, 1, 'binary mode: the attributes as ce_ headers');
      await publish([
        CloudEventsKafka.structured(a1),
        CloudEventsKafka.structured(a2),
        CloudEventsKafka.binary(b1),
        CloudEventsKafka.binary(b2),
        pretty,
        CloudEventsKafka.binary(c2),
        // Re-sent in the other mode: identical content.
        CloudEventsKafka.binary(a1),
        CloudEventsKafka.structured(b2),
      ]);
      await settled(m, 6, 2, 0);
      const usage = await usageOf(m.db);
      const mine = usage.intervals.filter((i) => [a1, b1, c1].some((e) => e.subject === i.subject));
      assert.deepEqual(
        mine.map((i) => [i.subject, i.from, i.to]),
        [a1, b1, c1].map((e) => [e.subject, '2026-10-03 14:00:00+00', '2026-10-03 16:00:00+00']),
      );
    },
  );

  test(
    'one CloudEvent whose time is written `…00Z`: sent structured (the SDK writes `…00.000Z`), then binary (`ce_time` as given), then with `+01:00`, is applied once, the copies duplicates, nothing rejected',
    LONG,
    async () => {
      const before = await stats(m);
      const subject = `dyno-ce-kafka-time-${++serial}`;
      const attributes = {
        source: 'dyno-manager',
        subject,
        partitionkey: subject,
        id: `${subject}-a`,
        type: 'dyno.started',
        sequence: 1,
        data: { app_id: 'app-ce-kafka', name: 'web.1', size: 'standard-1x' },
      };
      const event = new CloudEvent<Record<string, string>>({ ...attributes, time: '2026-12-01T00:00:00Z' });
      const structured = CloudEventsKafka.structured(event);
      const binary = CloudEventsKafka.binary(event);
      assert.equal(JSON.parse(String(structured.value)).time, '2026-12-01T00:00:00.000Z', 'structured: time normalised');
      assert.equal(binary.headers.ce_time, '2026-12-01T00:00:00Z', 'binary: ce_time as given');
      const offset = CloudEventsKafka.binary(new CloudEvent<Record<string, string>>({ ...attributes, time: '2026-12-01T01:00:00+01:00' }));
      await publish([structured]);
      await settled(m, before.events_applied! + 1, before.events_duplicate!, before.events_rejected!);
      await publish([binary, offset]);
      await settled(m, before.events_applied! + 1, before.events_duplicate! + 2, before.events_rejected!);
      assert.equal((await rejectedList()).filter((r) => r.event_id === event.id).length, 0, 'nothing kept as a rejection');
    },
  );

  test(
    'an invalid binary message is kept with its attributes and data as structured JSON, with reasons naming the field, and applied once fixed and re-submitted',
    LONG,
    async () => {
      const before = await stats(m);
      const [started] = dyno();
      const [other] = dyno();
      // A sequence header not in canonical integer form, and data that is not JSON.
      const badSequence = {
        ...CloudEventsKafka.binary(started),
        headers: { ...CloudEventsKafka.binary(started).headers, ce_sequence: '01' },
      };
      const notJson = {
        ...CloudEventsKafka.binary(other),
        headers: { ...CloudEventsKafka.binary(other).headers, 'content-type': 'text/plain' },
        value: 'web.1',
      };
      await publish([badSequence, notJson]);
      await settled(m, before.events_applied!, before.events_duplicate!, before.events_rejected! + 2);

      const kept = await rejectedList();
      const sequenceKept = kept.find((r) => r.event_id === started.id)!;
      assert.deepEqual(
        sequenceKept.reasons.map((r) => [r.field, r.code]),
        [['sequence', 'invalid_type']],
      );
      const structured = JSON.parse(sequenceKept.raw) as Record<string, unknown>;
      assert.deepEqual(structured, { ...JSON.parse(started.toString()), sequence: '01' }, 'every attribute and the data');
      const dataKept = kept.find((r) => r.event_id === other.id)!;
      assert.deepEqual(JSON.parse(dataKept.raw).data_base64, Buffer.from('web.1').toString('base64'));
      assert.ok(
        dataKept.reasons.some((r) => r.field === 'data' && r.code === 'invalid_type' && /not JSON/.test(r.message)),
        JSON.stringify(dataKept.reasons),
      );

      const fixed = await m.http.inject({
        method: 'POST',
        url: `/v1/rejected/${sequenceKept.id}/resubmit`,
        headers: { ...AUTH, 'content-type': 'application/cloudevents+json' },
        payload: JSON.stringify({ ...structured, sequence: 1 }),
      });
      assert.equal(fixed.statusCode, 202, fixed.body);
      await settled(m, before.events_applied! + 1, before.events_duplicate!, before.events_rejected! + 2);
    },
  );
});

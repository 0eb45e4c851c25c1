import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IHeaders, Producer } from 'kafkajs';
import { UNREADABLE_HEADERS } from '../src/domain/kafka-headers.ts';
import { AUTH, settled, startPublishing, stats, type Metering } from './harness.ts';

// Binary-mode messages whose header values are not UTF-8, written by kafkajs to
// the real broker and read by the running metering. kafkajs cannot send a null
// value: kafka-header-bytes.test.ts and the bus's headers.test.ts cover those.
const LONG = { timeout: 120_000 };

let m: Metering;
let producer: Producer;
let close: (() => Promise<void>) | undefined;
before(async () => {
  ({ m, producer, close } = await startPublishing('header-bytes'));
});
after(() => close?.());

const latin1 = (s: string) => Buffer.from(s, 'latin1');
const inOrder = (values: unknown[]) => values.map((v) => JSON.stringify(v)).sort();

/** A dyno.started in binary mode, its headers those given over the UTF-8 ones. */
function started(subject: string, changed: Record<string, Buffer> = {}) {
  const headers = {
    ce_specversion: '1.0',
    ce_id: `${subject}-a`,
    ce_source: 'dyno-manager',
    ce_type: 'dyno.started',
    ce_time: '2026-10-03T14:00:00Z',
    ce_subject: subject,
    ce_sequence: '1',
    'content-type': 'application/json',
    ...changed,
  };
  return {
    key: subject,
    value: JSON.stringify({ app_id: 'app-hb', name: 'web.1', size: 'standard-1x' }),
    headers: headers as unknown as IHeaders,
  };
}

describe('metering on Kafka: header values that are not UTF-8 (real broker, real PostgreSQL)', () => {
  test(
    'café-1/dyno-é and cafè-1/dyno-è in latin-1 are two kept rejections naming the headers, their bytes whole, never one event and a duplicate',
    LONG,
    async () => {
      const at = await stats(m);
      await producer.send({
        topic: m.topic,
        messages: [
          started('dyno-hb-1', { ce_id: latin1('café-1'), ce_subject: latin1('dyno-é') }),
          started('dyno-hb-2', { ce_id: latin1('cafè-1'), ce_subject: latin1('dyno-è') }),
        ],
      });
      await settled(m, at.events_applied!, at.events_duplicate!, at.events_rejected! + 2);

      const res = await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH });
      const kept = (res.json() as { rejected: { raw: string; reasons: { field: string; code: string; message: string }[] }[] }).rejected;
      const unreadable = kept
        .map((r) => ({ r, form: JSON.parse(r.raw) as Record<string, unknown> }))
        .filter(({ form }) => UNREADABLE_HEADERS in form);
      assert.deepEqual(
        inOrder(unreadable.map(({ form }) => form[UNREADABLE_HEADERS])),
        inOrder([
          { ce_id: latin1('café-1').toString('base64'), ce_subject: latin1('dyno-é').toString('base64') },
          { ce_id: latin1('cafè-1').toString('base64'), ce_subject: latin1('dyno-è').toString('base64') },
        ]),
        'two rejections, each with its own bytes',
      );
      for (const { r } of unreadable) {
        assert.deepEqual(
          r.reasons.map((x) => [x.field, x.code]),
          [
            ['id', 'invalid_type'],
            ['subject', 'invalid_type'],
          ],
        );
        assert.match(r.reasons[0]!.message, /Kafka header ce_id was not/);
        assert.ok(!r.raw.includes('\uFFFD'), r.raw);
      }
    },
  );
});

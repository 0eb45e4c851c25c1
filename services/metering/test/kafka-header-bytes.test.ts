import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IHeaders } from 'kafkajs';
import { nonTextHeaders, textHeaders, type IncomingMessage } from '@vault/bus';
import { BusReceived } from '../src/consumer/apply-messages.ts';
import { isMessageOf, messageHash } from '../src/consumer/log-position.ts';
import { judge } from '../src/domain/judge.ts';
import { judgeUncompiled } from '../src/domain/judge-reference.ts';
import { UNREADABLE_HEADERS } from '../src/domain/kafka-headers.ts';

// Kafka binary-mode messages as the consumer reads them off the wire: header
// values are bytes (kafkajs hands null for one sent without a value), decoded
// by the bus (headers.ts) and judged by metering.
const NOW = Date.parse('2026-11-01T00:00:00Z');
const DATA = Buffer.from('{"app_id":"app-1"}');
const latin1 = (s: string) => Buffer.from(s, 'latin1');

/** A dyno.stopped in binary mode: every attribute a UTF-8 header but those `changed` gives. */
function message(changed: Record<string, Buffer | null> = {}, value = DATA, offset = 0): IncomingMessage {
  const headers: Record<string, Buffer | null> = {
    ce_specversion: Buffer.from('1.0'),
    ce_id: Buffer.from('e-1'),
    ce_source: Buffer.from('dyno-manager'),
    ce_type: Buffer.from('dyno.stopped'),
    ce_time: Buffer.from('2026-10-03T16:00:00Z'),
    ce_subject: Buffer.from('dyno-1'),
    ce_sequence: Buffer.from('2'),
    'content-type': Buffer.from('application/json'),
    ...changed,
  };
  const wire = headers as unknown as IHeaders;
  const nonText = nonTextHeaders(wire);
  return {
    topic: 't',
    partition: 0,
    offset: String(offset),
    key: 'dyno-1',
    value,
    timestamp: NOW,
    headers: textHeaders(wire),
    ...(nonText ? { nonTextHeaders: nonText } : {}),
  };
}

const judged = (messages: IncomingMessage[]) => {
  const received = messages.map((m) => new BusReceived(m));
  const answer = judge(received, NOW);
  assert.deepEqual(judgeUncompiled(received, NOW), answer, 'the reference judge answers alike');
  return answer;
};
const kept = (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
const reasons = (r: { reasons: { field: string; code: string; message: string }[] } | undefined) =>
  r?.reasons.map((x) => [x.field, x.code, x.message]);

describe('Kafka header values that are not UTF-8, or null (pure)', () => {
  test('latin-1 café-1/dyno-é and cafè-1/dyno-è are two rejections naming ce_id and ce_subject, their bytes kept whole, never one event and a duplicate', () => {
    const e = message({ ce_id: latin1('café-1'), ce_subject: latin1('dyno-é') });
    const è = message({ ce_id: latin1('cafè-1'), ce_subject: latin1('dyno-è') }, DATA, 1);
    const { valid, invalid } = judged([e, è]);
    assert.equal(valid.length, 0, 'nothing read with U+FFFD is applied');
    assert.equal(invalid.length, 2);
    assert.notDeepEqual(invalid[0]!.received.bytes, invalid[1]!.received.bytes, 'two kept rejections, not one');
    assert.deepEqual(reasons(invalid[0]), [
      ['id', 'invalid_type', `must be UTF-8 text: the Kafka header ce_id was not (its bytes kept here in ${UNREADABLE_HEADERS}, base64)`],
      [
        'subject',
        'invalid_type',
        `must be UTF-8 text: the Kafka header ce_subject was not (its bytes kept here in ${UNREADABLE_HEADERS}, base64)`,
      ],
    ]);
    const form = kept(invalid[0]!.received.bytes);
    assert.deepEqual(form, {
      specversion: '1.0',
      source: 'dyno-manager',
      type: 'dyno.stopped',
      time: '2026-10-03T16:00:00Z',
      sequence: 2,
      data: { app_id: 'app-1' },
      [UNREADABLE_HEADERS]: { ce_id: latin1('café-1').toString('base64'), ce_subject: latin1('dyno-é').toString('base64') },
    });
    assert.ok(!invalid[0]!.received.bytes.includes(Buffer.from('\uFFFD')), 'no replacement character');
    assert.equal(invalid[0]!.source, 'dyno-manager', 'what can be read still helps find it');
  });

  test('an unreadable header refuses an event that would otherwise be valid (an extension); one metering does not read does not', () => {
    const extension = judged([message({ ce_traceparent: Buffer.from([0xff, 0x00]) })]);
    assert.equal(extension.valid.length, 0);
    assert.deepEqual(
      extension.invalid[0]?.reasons.map((r) => [r.field, r.code]),
      [['traceparent', 'invalid_type']],
    );
    const other = judged([message({ 'x-trace': Buffer.from([0xff]) })]);
    assert.equal(other.valid.length, 1, 'a header other than ce_ and content-type is not read');
  });

  test('a content-type that is not UTF-8 names datacontenttype; the value is kept as its bytes (data_base64)', () => {
    const value = Buffer.from('{"app_id":"app-1"}\n');
    const { invalid } = judged([message({ 'content-type': latin1('application/jsön') }, value)]);
    assert.deepEqual(
      invalid[0]?.reasons.map((r) => [r.field, r.code]),
      [['datacontenttype', 'invalid_type']],
    );
    const form = kept(invalid[0]!.received.bytes);
    assert.equal(form.data, undefined);
    assert.equal(form.data_base64, value.toString('base64'));
    assert.deepEqual(form[UNREADABLE_HEADERS], { 'content-type': latin1('application/jsön').toString('base64') });
  });

  test('a structured-mode message with an unreadable ce_ header is refused, its value kept whole as data_base64', () => {
    const event = Buffer.from('{"specversion":"1.0","id":"s-1"}');
    const { invalid } = judged([message({ 'content-type': Buffer.from('application/cloudevents+json'), ce_id: latin1('é') }, event)]);
    const form = kept(invalid[0]!.received.bytes);
    assert.equal(form.datacontenttype, 'application/cloudevents+json');
    assert.equal(form.data_base64, event.toString('base64'));
  });

  test('a header without a value is absent, never "null": no subject is refused as required; no content-type reads the data as JSON', () => {
    const noSubject = judged([message({ ce_subject: null })]);
    assert.equal(noSubject.valid.length, 0);
    assert.deepEqual(
      noSubject.invalid[0]?.reasons.map((r) => [r.field, r.code]),
      [['subject', 'required']],
    );
    assert.equal(kept(noSubject.invalid[0]!.received.bytes).subject, undefined);
    const noType = judged([message({ 'content-type': null })]);
    assert.equal(noType.invalid.length, 0, JSON.stringify(noType.invalid[0]?.reasons));
    assert.equal(noType.valid[0]?.event.subject, 'dyno-1');
  });

  test('a message\'s hash counts its header bytes as sent; a position stored when they were read with U+FFFD and null as "null" is still recognised', () => {
    const e = message({ ce_id: latin1('café-1'), ce_subject: latin1('dyno-é') });
    const è = message({ ce_id: latin1('cafè-1'), ce_subject: latin1('dyno-è') });
    assert.notEqual(messageHash(e), messageHash(è));
    assert.notEqual(messageHash(message({ ce_subject: null })), messageHash(message({ ce_subject: Buffer.from('') })));
    // The digest the lenient decoding gave this message (ce_id `caf\uFFFD-1`, ce_subject "null").
    const before = {
      topic: 't',
      partition: 0,
      offset: '0',
      key: 'dyno-e',
      value: Buffer.from('{"app_id":"app-1"}'),
      timestamp: 1_790_000_000_000,
      headers: { ce_specversion: '1.0' },
      nonTextHeaders: { ce_id: latin1('café-1'), ce_subject: null },
    };
    const PINNED = '0fca1ce3275d4fe057bf9a27108925cc66e70602b92b6df09dcb6780a9744cd4';
    assert.notEqual(messageHash(before), PINNED);
    assert.ok(isMessageOf(before, PINNED), 'not read again from its start');
    assert.ok(isMessageOf(before, messageHash(before)));
  });
});

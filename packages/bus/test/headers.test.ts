import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import type { IHeaders } from 'kafkajs';
import { nonTextHeaders, textHeaders } from '../src/headers.ts';

const latin1 = (s: string) => Buffer.from(s, 'latin1');

// kafkajs's own wire codec for one record header: what a consumer reads off a fetch.
const require = createRequire(import.meta.url);
type Codec = { writeVarIntString(s: string): Codec; writeVarIntBytes(v: Buffer | null): Codec; buffer: Buffer };
const Encoder = require('kafkajs/src/protocol/encoder') as new () => Codec;
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const decodeHeader = require('kafkajs/src/protocol/recordBatch/header/v0/decoder') as (d: unknown) => { key: string; value: Buffer | null };

/**
 * Record headers as kafkajs decodes them from the wire: a Buffer a value, null
 * for one sent without a value (its type says undefined; Java and librdkafka
 * clients send them), an array for a repeated name.
 */
const received = (headers: Record<string, Buffer | null | Buffer[]>) => headers as unknown as IHeaders;

describe('Kafka record headers as the bus hands them on (pure)', () => {
  test('UTF-8 values are text, as sent (a byte order mark too); a repeated name is its first value', () => {
    const headers = received({
      ce_id: Buffer.from('café-1'),
      ce_subject: Buffer.from('\uFEFFdyno-é'),
      ce_source: [Buffer.from('first'), Buffer.from('second')],
      'content-type': Buffer.from(''),
    });
    assert.deepEqual(textHeaders(headers), { ce_id: 'café-1', ce_subject: '\uFEFFdyno-é', ce_source: 'first', 'content-type': '' });
    assert.equal(nonTextHeaders(headers), undefined, 'nothing left out');
  });

  test('a value that is not UTF-8 is never read with U+FFFD: left out of the text, its bytes handed on as sent', () => {
    const one = received({ ce_specversion: Buffer.from('1.0'), ce_id: latin1('café-1'), ce_subject: latin1('dyno-é') });
    const other = received({ ce_specversion: Buffer.from('1.0'), ce_id: latin1('cafè-1'), ce_subject: latin1('dyno-è') });
    assert.deepEqual(textHeaders(one), { ce_specversion: '1.0' });
    assert.deepEqual(nonTextHeaders(one), { ce_id: latin1('café-1'), ce_subject: latin1('dyno-é') });
    assert.notDeepEqual(nonTextHeaders(one), nonTextHeaders(other), 'two values stay two');
    // Overlong and surrogate encodings are not UTF-8 either.
    for (const bytes of [
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xe2, 0x82],
    ]) {
      const h = received({ ce_id: Buffer.from(bytes) });
      assert.deepEqual([textHeaders(h), nonTextHeaders(h)], [{}, { ce_id: Buffer.from(bytes) }], String(bytes));
    }
  });

  test('a header without a value is absent from the text (never "null"), and handed on as null', () => {
    const wire = new Encoder().writeVarIntString('ce_subject').writeVarIntBytes(null).buffer;
    const { key, value } = decodeHeader(new Decoder(wire));
    assert.deepEqual([key, value], ['ce_subject', null], 'kafkajs reads "no value" (length -1) as null');
    assert.deepEqual(textHeaders(received({ [key]: value })), {});
    const headers = received({ ce_subject: null, 'content-type': null, ce_id: Buffer.from('e-1'), ce_time: [null as unknown as Buffer] });
    assert.deepEqual(textHeaders(headers), { ce_id: 'e-1' });
    assert.deepEqual(nonTextHeaders(headers), { ce_subject: null, 'content-type': null, ce_time: null });
  });

  test('a value given as a string (as a producer gives them) is that text', () => {
    const headers = { 'content-type': 'application/cloudevents+json', ce_none: undefined } as IHeaders;
    assert.deepEqual(textHeaders(headers), { 'content-type': 'application/cloudevents+json' });
    assert.equal(nonTextHeaders(headers), undefined);
  });
});

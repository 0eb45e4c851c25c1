import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CloudEvent, HTTP, Kafka, type KafkaMessage } from 'cloudevents';
import { binaryToStructured, structuredValue } from '../src/domain/cloudevents-binary.ts';
import { judge } from '../src/domain/judge.ts';
import { readBody } from '../src/intake/read-body.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const stopped = new CloudEvent({
  id: 'ce-binary-1',
  source: 'dyno-manager',
  type: 'dyno.stopped',
  time: '2026-10-03T16:00:00+02:00',
  subject: 'dyno-1',
  sequence: 2,
  data: { app_id: 'app-1' },
});
/** An SDK message's headers as a server reads them: lower-case names, text values, none undefined. */
const asReceived = (headers: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(headers).flatMap(([k, v]) => (v === undefined ? [] : [[k.toLowerCase(), String(v)]])));
const parsed = (b: Buffer) => JSON.parse(b.toString('utf8')) as Record<string, unknown>;

describe('CloudEvents binary mode to its structured form (pure)', () => {
  test("the SDK's HTTP.binary message: every ce- header an attribute, the sequence header a number, the body the data", () => {
    const message = HTTP.binary(stopped);
    const form = binaryToStructured(asReceived(message.headers), Buffer.from(String(message.body)), 'ce-');
    assert.equal(form.unreadable, undefined);
    assert.deepEqual(parsed(form.bytes), {
      id: 'ce-binary-1',
      time: '2026-10-03T14:00:00.000Z',
      type: 'dyno.stopped',
      source: 'dyno-manager',
      specversion: '1.0',
      subject: 'dyno-1',
      sequence: 2,
      data: { app_id: 'app-1' },
    });
    const { valid } = judge([{ bytes: form.bytes, receivedAtMs: NOW }], NOW);
    assert.equal(valid.length, 1, 'a valid event');
  });

  test('a sequence header that is not a canonical integer stays a string, and the judge names sequence', () => {
    for (const sequence of ['02', '2.0', ' 2x', '']) {
      const headers = { ...asReceived(HTTP.binary(stopped).headers), 'ce-sequence': sequence };
      const form = binaryToStructured(headers, Buffer.from('{"app_id":"app-1"}'), 'ce-');
      assert.equal(parsed(form.bytes).sequence, sequence);
      const { invalid } = judge([{ bytes: form.bytes, receivedAtMs: NOW }], NOW);
      assert.deepEqual(
        invalid[0]?.reasons.map((r) => [r.field, r.code]),
        [['sequence', 'invalid_type']],
        sequence,
      );
    }
    const big = binaryToStructured({ 'ce-specversion': '1.0', 'ce-sequence': '-3' }, Buffer.alloc(0), 'ce-');
    assert.equal(parsed(big.bytes).sequence, -3);
  });

  test('HTTP header values are percent-decoded as the HTTP binding asks; an invalid run is left as sent', () => {
    const form = binaryToStructured({ 'ce-specversion': '1.0', 'ce-subject': 'caf%C3%A9 %E2%82', 'ce-id': '100%' }, Buffer.alloc(0), 'ce-');
    assert.equal(parsed(form.bytes).subject, 'café %E2%82');
    assert.equal(parsed(form.bytes).id, '100%');
  });

  test('data that cannot be read is named (400 not JSON, 415 another type or charset) and kept as data_base64, judged "data: must be a JSON object"', () => {
    const cases: [Record<string, string>, Buffer, number][] = [
      [{ 'content-type': 'application/json' }, Buffer.from('{"app_id":'), 400],
      [{}, Buffer.from('plain words'), 400],
      [{ 'content-type': 'application/json' }, Buffer.from([0x7b, 0xff, 0x7d]), 400],
      [{ 'content-type': 'text/plain' }, Buffer.from('plain words'), 415],
      [{ 'content-type': 'application/json; charset=latin1' }, Buffer.from('{}'), 415],
    ];
    for (const [extra, body, status] of cases) {
      const headers = { ...asReceived(HTTP.binary(stopped).headers), ...extra };
      delete headers['content-type'];
      const form = binaryToStructured({ ...headers, ...extra }, body, 'ce-');
      assert.equal(form.unreadable?.status, status, body.toString());
      assert.equal(parsed(form.bytes).data_base64, body.toString('base64'));
      const { invalid } = judge([{ bytes: form.bytes, receivedAtMs: NOW }], NOW);
      assert.ok(
        invalid[0]?.reasons.some((r) => r.field === 'data' && r.code === 'invalid_type' && /not JSON/.test(r.message)),
        JSON.stringify(invalid[0]?.reasons),
      );
    }
  });

  test('data nested 5,000 arrays deep: the door answers 400 and the consumer judges the Kafka message, never a throw (a 500, or a partition handed the message for ever)', () => {
    const deep = Buffer.from(`{"app_id":"app-1","x":${'['.repeat(5_000)}1${']'.repeat(5_000)}}`);
    const headers = { ...asReceived(HTTP.binary(stopped).headers), 'content-type': 'application/json' };
    const form = binaryToStructured(headers, deep, 'ce-');
    assert.equal(form.unreadable?.status, 400);
    assert.match(form.unreadable!.error, /nests too deep/);
    assert.equal(parsed(form.bytes).data_base64, deep.toString('base64'));
    const kafka = Kafka.binary(stopped);
    const value = structuredValue(deep, asReceived(kafka.headers as Record<string, unknown>));
    const judged = judge([{ bytes: value, receivedAtMs: NOW }], NOW);
    assert.equal(judged.valid.length + judged.invalid.length, 1, 'judged, one way or the other');
  });

  test('a Kafka binary message without ce_specversion is still binary: its attributes kept, the judge names specversion alone', () => {
    const binary = Kafka.binary(stopped);
    const { ce_specversion: _specversion, ...headers } = asReceived(binary.headers as Record<string, unknown>);
    const form = parsed(structuredValue(Buffer.from(JSON.stringify(binary.value)), headers));
    const { specversion: _, ...rest } = { ...JSON.parse(stopped.toString()), time: '2026-10-03T16:00:00+02:00' };
    assert.deepEqual(form, rest);
    const { invalid } = judge([{ bytes: Buffer.from(JSON.stringify(form)), receivedAtMs: NOW }], NOW);
    assert.deepEqual(
      invalid[0]?.reasons.map((r) => [r.field, r.code]),
      [['specversion', 'required']],
    );
    assert.equal(invalid[0]?.subject, 'dyno-1', 'its subject, the bus key');
  });

  test("a Kafka message: binary (ce_ headers) in its structured form, structured (the SDK's content type) and header-less values untouched", () => {
    const binary = Kafka.binary(stopped);
    const value = Buffer.from(JSON.stringify(binary.value));
    const form = structuredValue(value, asReceived(binary.headers as Record<string, unknown>));
    assert.deepEqual(parsed(form), { ...JSON.parse(stopped.toString()), time: '2026-10-03T16:00:00+02:00' });
    const structured = Kafka.structured(stopped);
    const raw = Buffer.from(String(structured.value));
    assert.equal(structuredValue(raw, { ...asReceived(structured.headers as Record<string, unknown>), ce_specversion: '1.0' }), raw);
    assert.equal(structuredValue(raw, undefined), raw);
    assert.equal(structuredValue(raw, {}), raw);
    // A tracing header alone (no ce_id, no ce_specversion) on a plain JSON event leaves it what it is.
    assert.equal(structuredValue(raw, { ce_traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }), raw);
  });
});

describe('one SDK event, the same content in every mode (pure)', () => {
  /** The judge's verdict on each SDK message of `e`, as read by the HTTP intake and the Kafka consumer. */
  const judgedInEveryMode = (e: CloudEvent<unknown>) => {
    const http = (m: { headers: Record<string, unknown>; body: unknown }) => {
      const reading = readBody(asReceived(m.headers), Buffer.isBuffer(m.body) ? m.body : Buffer.from(String(m.body)));
      assert.ok(reading.ok, JSON.stringify(reading));
      return reading.lines[0]!.bytes;
    };
    const kafka = (m: KafkaMessage<unknown>) => {
      const value = typeof m.value === 'string' || Buffer.isBuffer(m.value) ? Buffer.from(m.value) : Buffer.from(JSON.stringify(m.value));
      return structuredValue(value, asReceived(m.headers as Record<string, unknown>));
    };
    const structured = String(HTTP.structured(e).body);
    const messages = {
      'HTTP binary': http(HTTP.binary(e)),
      'HTTP structured': http(HTTP.structured(e)),
      'HTTP batch': http({ headers: { 'content-type': 'application/cloudevents-batch+json' }, body: `[${structured}]` }),
      'Kafka binary': kafka(Kafka.binary(e)),
      'Kafka structured': kafka(Kafka.structured(e)),
    };
    return Object.entries(messages).map(([mode, bytes]) => {
      const { valid, invalid } = judge([{ bytes, receivedAtMs: NOW }], NOW);
      assert.equal(valid.length, 1, `${mode}: ${JSON.stringify(invalid[0]?.reasons)}`);
      return [mode, valid[0]!.contentHash] as const;
    });
  };
  /** Every mode's hash, which must all be `expected`. */
  const sameHash = (hashes: (readonly [string, string])[], expected: string) =>
    assert.deepEqual(
      hashes,
      hashes.map(([mode]) => [mode, expected]),
    );
  // A time in the SDK's own form: its Kafka binary binding writes ce_time as given, its other modes normalised.
  const attributes = { ...JSON.parse(stopped.toString()), time: '2026-10-03T14:00:00.000Z' } as Record<string, unknown>;
  const plain = new CloudEvent(attributes);
  const plainHash = judgedInEveryMode(plain)[0]![1];

  test('datacontenttype "application/json": the same content hash in HTTP binary, structured and batched, Kafka binary and structured, as without it', () => {
    const e = new CloudEvent({ ...attributes, datacontenttype: 'application/json' });
    assert.match(String(HTTP.structured(e).body), /"datacontenttype":"application\/json"/);
    sameHash(judgedInEveryMode(e), plainHash);
    const [event] = judge([{ bytes: Buffer.from(String(HTTP.structured(e).body)), receivedAtMs: NOW }], NOW).valid;
    assert.equal(event?.event.datacontenttype, undefined, 'the contract default, left out');
  });

  test('forwarded by an SDK relay (its binary form read, then sent structured): datacontenttype "application/json; charset=utf-8" is accepted, the same event', () => {
    const relayed = HTTP.toEvent(HTTP.binary(plain)) as CloudEvent<unknown>;
    assert.equal(relayed.datacontenttype, 'application/json; charset=utf-8');
    sameHash(judgedInEveryMode(relayed), plainHash);
  });

  test('a JSON content type with a parameter the contract does not take (profile=x, charset=utf8) is refused in binary mode as datacontenttype is in structured mode', () => {
    for (const contentType of ['application/json; profile=x', 'application/json; charset=utf8']) {
      const binary = { ...asReceived(HTTP.binary(plain).headers), 'content-type': contentType };
      const form = binaryToStructured(binary, Buffer.from(JSON.stringify(attributes.data)), 'ce-');
      assert.equal(form.unreadable, undefined, 'the data is read');
      const structured = Buffer.from(JSON.stringify({ ...JSON.parse(String(HTTP.structured(plain).body)), datacontenttype: contentType }));
      const verdicts = [form.bytes, structured].map((bytes) => judge([{ bytes, receivedAtMs: NOW }], NOW));
      for (const { valid, invalid } of verdicts) {
        assert.equal(valid.length, 0, contentType);
        assert.deepEqual(
          invalid[0]?.reasons.map((r) => r.field),
          ['datacontenttype'],
          contentType,
        );
      }
    }
  });

  test('data sent as bytes (a Buffer of JSON): structured data_base64 is read as that JSON, the same event as the binary copy', () => {
    const json = Buffer.from(JSON.stringify(attributes.data));
    for (const e of [
      new CloudEvent({ ...attributes, datacontenttype: 'application/json', data: json }),
      new CloudEvent({ ...attributes, data: json }),
    ]) {
      assert.match(String(HTTP.structured(e).body), /"data_base64":/);
      sameHash(judgedInEveryMode(e), plainHash);
    }
  });

  test('data_base64 that cannot be read is refused saying why; data beside it is judged, as before', () => {
    const refusal = (extra: Record<string, unknown>) => {
      const { data: _, ...envelope } = attributes;
      const { invalid } = judge([{ bytes: Buffer.from(JSON.stringify({ ...envelope, ...extra })), receivedAtMs: NOW }], NOW);
      return invalid[0]?.reasons.map((r) => `${r.field}: ${r.message}`);
    };
    const base64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
    assert.deepEqual(refusal({ data_base64: 'eyJhcHBfaWQiOiJhcHAtMSJ9!' }), [
      'data: must be a JSON object: data_base64 is not base64 (RFC 4648, padded)',
    ]);
    assert.deepEqual(refusal({ data_base64: base64(Buffer.from([0x7b, 0xff, 0x7d])) }), [
      'data: must be a JSON object: the data sent was not JSON (not UTF-8; kept here as data_base64)',
    ]);
    assert.match(
      refusal({ data_base64: base64('web.1') })?.[0] ?? '',
      /^data: must be a JSON object: the data sent was not JSON \(.+; kept here as data_base64\)$/,
    );
    assert.deepEqual(refusal({ data_base64: base64('"web.1"') }), ['data: must be a JSON object']);
    assert.deepEqual(refusal({ datacontenttype: 'text/plain', data_base64: base64('{"app_id":"app-1"}') }), [
      'datacontenttype: must be "application/json" (its only parameter, if any, charset=utf-8)',
      'data: must be a JSON object: the data sent is not JSON by its datacontenttype (kept here as data_base64)',
    ]);
    // `data` and `data_base64` both: `data` is the event's, as it always was (`data_base64` an unknown member).
    assert.deepEqual(refusal({ data: 'web.1', data_base64: base64('{"app_id":"app-1"}') }), ['data: must be a JSON object']);
    const both = judge(
      [{ bytes: Buffer.from(JSON.stringify({ ...attributes, data_base64: base64('{"app_id":"x"}') })), receivedAtMs: NOW }],
      NOW,
    );
    assert.deepEqual(both.valid[0]?.event.data, { app_id: 'app-1' });
  });
});

describe('POST /v1/events bodies by content type (pure)', () => {
  const event = JSON.parse(stopped.toString()) as Record<string, unknown>;
  const read = (contentType: string | undefined, body: string, more: Record<string, string> = {}) =>
    readBody({ ...(contentType ? { 'content-type': contentType } : {}), ...more }, Buffer.from(body));

  test('structured mode is one event whatever its whitespace, kept as received without the whitespace around it', () => {
    const pretty = JSON.stringify(event, null, 2);
    const reading = read('application/cloudevents+json; charset=utf-8', `\n${pretty}\n`);
    assert.ok(reading.ok);
    assert.deepEqual(
      reading.lines.map((l) => [l.index, l.bytes.toString()]),
      [[0, pretty]],
    );
  });

  test('batched mode is an array; application/json an array, one object, or NDJSON', () => {
    const batch = read('application/cloudevents-batch+json', JSON.stringify([event, event]));
    assert.ok(batch.ok && batch.lines.length === 2);
    for (const type of ['application/x-ndjson', 'application/ndjson']) {
      const ndjson = read(type, `${JSON.stringify(event)}\n${JSON.stringify(event)}\n`);
      assert.ok(ndjson.ok && ndjson.lines.length === 2, type);
    }
    const none = read(undefined, JSON.stringify(event, null, 1));
    assert.ok(none.ok && none.lines.length === 1);
    // An empty batch is valid in a request (CloudEvents' JSON batch format): no lines, nothing refused.
    for (const type of ['application/cloudevents-batch+json', 'application/json']) {
      const empty = read(type, ' [ ] ');
      assert.ok(empty.ok && empty.lines.length === 0, type);
    }
  });

  test('what cannot be read is a 400 or 415 naming why', () => {
    const refusals: [string | undefined, string, number, RegExp, Record<string, string>?][] = [
      ['text/plain', '{}', 415, /^content-type text\/plain is not one this route reads: send application\/cloudevents\+json/],
      ['application/x-www-form-urlencoded', 'a=1', 415, /not one this route reads/],
      ['application/cloudevents+xml', '<e/>', 415, /not one this route reads/],
      ['application/json; charset=iso-8859-1', '[]', 415, /^content-type charset iso-8859-1: events are UTF-8$/],
      ['application/cloudevents+json', '{"id": ', 400, /^body is not JSON \(application\/cloudevents\+json is one event\): /],
      ['application/cloudevents+json', JSON.stringify([event]), 400, /a batch is|cloudevents-batch\+json/],
      ['application/cloudevents+json', '42', 400, /^body is not one event/],
      ['application/cloudevents+json', ' ', 400, /^body holds no events$/],
      ['application/cloudevents-batch+json', JSON.stringify(event), 400, /^body is not a JSON array: application\/cloudevents-batch\+json/],
      ['application/cloudevents-batch+json', '[{', 400, /^body is not a JSON array: /],
      ['application/json', '{"x":', 400, /^body is not JSON \(in binary mode/, { 'ce-specversion': '1.0' }],
      ['text/plain', 'x', 415, /in binary mode the body is the event's data, which must be application\/json/, { 'ce-specversion': '1.0' }],
    ];
    for (const [contentType, body, status, error, more] of refusals) {
      const reading = read(contentType, body, more);
      assert.ok(!reading.ok, `${contentType} ${body}`);
      assert.equal(reading.status, status, `${contentType} ${body}`);
      assert.match(reading.error, error);
    }
  });
});

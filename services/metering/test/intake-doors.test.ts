// POST /v1/events refuses what it cannot read as sent, whole, before anything is
// published: a compressed body (Content-Encoding or Transfer-Encoding), one JSON
// object over several lines that is not JSON, a ce- header holding raw bytes
// outside printable ASCII or an escape that is read two ways, a ce- header or
// Content-Type sent twice, a Content-Type fastify cannot parse.
// Valid NDJSON keeps its rule: a bad line refused alone, the others kept. A
// ce-id means binary mode, so an event without ce-specversion is kept whole.
// The same doors over a real socket: intake-doors-http.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { headRefusal } from '../src/intake/request-head.ts';
import { binaryHeaders, brokenPretty, event, read } from './doors-fixture.ts';

describe('POST /v1/events doors (pure)', () => {
  test('a Content-Encoding other than identity is a 415 naming it, asking for identity; identity is read', () => {
    for (const coding of ['gzip', 'br', 'GZIP', 'identity, gzip']) {
      const reading = read({ 'content-type': 'application/json', 'content-encoding': coding }, gzipSync(JSON.stringify([event()])));
      assert.ok(!reading.ok, coding);
      assert.equal(reading.status, 415);
      assert.match(
        reading.error,
        /^Content-Encoding (gzip|br)(, gzip)? is not one this route reads: send the body uncompressed \(identity\)$/i,
      );
      assert.deepEqual(reading.headers, { 'accept-encoding': 'identity' });
    }
    const identity = read({ 'content-type': 'application/json', 'content-encoding': 'identity' }, JSON.stringify([event()]));
    assert.ok(identity.ok && identity.lines.length === 1);
  });

  test('one JSON object over several lines that is not JSON is a 400 naming the error, whatever the JSON or NDJSON type', () => {
    for (const type of ['application/json', 'application/x-ndjson', 'application/ndjson', undefined]) {
      const reading = read(type ? { 'content-type': type } : {}, `\n${brokenPretty()}\n`);
      assert.ok(!reading.ok, String(type));
      assert.equal(reading.status, 400);
      assert.match(
        reading.error,
        /^body is not JSON: Expected ',' or '}' after property value in JSON at position \d+ \(a JSON object over several lines is one event/,
      );
    }
  });

  test('NDJSON whose first line is broken is still NDJSON: that line alone is refused, the events after it kept', () => {
    const lines = ['{"specversion": "1.0", "id": ', JSON.stringify(event()), '  {', JSON.stringify(event())];
    const reading = read({ 'content-type': 'application/x-ndjson' }, lines.join('\n'));
    assert.ok(reading.ok);
    assert.deepEqual(
      reading.lines.map((l) => l.bytes.toString()),
      lines,
    );
    // Every line broken (truncated, or NaN): each is kept for an operator, not the body refused whole.
    const broken = ['{"specversion": "1.0", "id": "a"', '{"n": NaN}', '{"specversion": '];
    const junk = read({ 'content-type': 'application/x-ndjson' }, broken.join('\n'));
    assert.ok(junk.ok);
    assert.equal(junk.lines.length, 3);
  });

  test('a pretty-printed object with an object of one line inside is still one broken object, a 400', () => {
    const text = JSON.stringify({ ...event(), data: { items: [{ a: 1 }] } }, null, 2)
      .replace(/\{\n\s+"a": 1\n\s+\}/, '{"a": 1}')
      .replace('"dyno-manager",', '"dyno-manager"');
    assert.match(text, /^ +\{"a": 1\}$/m);
    const reading = read({ 'content-type': 'application/json' }, text);
    assert.ok(!reading.ok);
    assert.equal(reading.status, 400);
  });

  test('a ce- header holding a byte outside printable ASCII is a 400 naming the header; percent-encoded, the event is its structured copy', () => {
    const raw = Buffer.from('dyné-doors').toString('latin1');
    for (const value of [raw, 'dyn\tdoors', 'dyn\u007fdoors']) {
      const reading = read(binaryHeaders(value), '{"app_id":"app-doors","name":"web.1","size":"standard-1x"}');
      assert.ok(!reading.ok, JSON.stringify(value));
      assert.equal(reading.status, 400);
      assert.match(reading.error, /^header ce-subject holds the byte 0x(c3|09|7f) \(at 3\), outside printable ASCII: .*percent-encoded/);
    }
    const encoded = read(binaryHeaders('dyn%C3%A9 doors'), JSON.stringify(event().data));
    assert.ok(encoded.ok);
    assert.equal(JSON.parse(encoded.lines[0]!.bytes.toString()).subject, 'dyné doors');
  });

  test('an escape the binding never needs (%2F) is a 400 naming the header, unless ce-time shows the sender escapes needlessly (%3A): then decoded', () => {
    const data = JSON.stringify(event().data);
    for (const id of ['order%2F7-started', 'order%2f7-started', 'a%3Ab', 'x%7E1']) {
      const reading = read({ ...binaryHeaders('dyno-doors-escape'), 'ce-id': id }, data);
      assert.ok(!reading.ok, id);
      assert.equal(reading.status, 400);
      assert.match(
        reading.error,
        /^header ce-id holds %(2F|2f|3A|7E) \((\/|:|~) escaped\), which the CloudEvents HTTP binding never needs/,
      );
    }
    // Escapes a compliant encoder must write (space, ", %, UTF-8) are decoded, whatever ce-time holds.
    const needed = read({ ...binaryHeaders('dyn%C3%A9%20x'), 'ce-id': '100%25-%22q%22' }, data);
    assert.ok(needed.ok);
    assert.deepEqual(
      [JSON.parse(needed.lines[0]!.bytes.toString()).id, JSON.parse(needed.lines[0]!.bytes.toString()).subject],
      ['100%-"q"', 'dyné x'],
    );
    // As the Python SDK sends it (quote(safe="")): ce-time's ":" escaped, every value decoded.
    const escaped = read({ ...binaryHeaders('dyno%2Fdoors'), 'ce-id': 'order%2F7-started', 'ce-time': '2026-10-01T00%3A00%3A00Z' }, data);
    assert.ok(escaped.ok);
    const decoded = JSON.parse(escaped.lines[0]!.bytes.toString());
    assert.deepEqual([decoded.id, decoded.subject, decoded.time], ['order/7-started', 'dyno/doors', '2026-10-01T00:00:00Z']);
  });

  test('the head: a ce- header sent twice in binary mode, or Content-Type twice, is a 400 naming it; a transfer coding but chunked is a 501', () => {
    const binary = Object.fromEntries(Object.entries(binaryHeaders('dyno-doors-head')).map(([k, v]) => [k, [v]]));
    assert.equal(headRefusal(binary), undefined);
    assert.deepEqual(headRefusal({ ...binary, 'ce-id': ['x-1', 'x-1'] }), {
      status: 400,
      error: 'header ce-id is sent 2 times: a CloudEvents attribute is one header, sent once',
    });
    assert.match(
      headRefusal({ ...binary, 'ce-source': ['dyno-manager', 'addon-service'] })?.error ?? '',
      /^header ce-source is sent 2 times/,
    );
    // Outside binary mode ce- headers are not read: a tracing header twice leaves a JSON body what it is.
    assert.equal(headRefusal({ 'content-type': ['application/json'], 'ce-traceparent': ['00-a', '00-b'] }), undefined);
    assert.deepEqual(headRefusal({ 'content-type': ['application/json', 'application/cloudevents+json'] }), {
      status: 400,
      error: 'header content-type is sent 2 times: a request has one, which chooses how its body is read',
    });
    for (const te of [['gzip, chunked'], ['gzip', 'chunked'], ['Deflate , chunked']]) {
      const refusal = headRefusal({ 'content-type': ['application/json'], 'transfer-encoding': te });
      assert.equal(refusal?.status, 501, te.join('|'));
      assert.match(refusal?.error ?? '', /^Transfer-Encoding (gzip|deflate) is not one this route reads/);
    }
    assert.equal(headRefusal({ 'transfer-encoding': ['chunked'] }), undefined);
  });

  test('ce- headers without ce-specversion are binary mode: the event read from them, specversion alone missing', () => {
    const { 'ce-specversion': _, ...headers } = binaryHeaders('dyno-doors-nospec');
    const reading = read(headers, JSON.stringify(event().data));
    assert.ok(reading.ok);
    const { specversion: _specversion, ...expected } = event('dyno-doors-nospec', headers['ce-id']);
    assert.deepEqual(JSON.parse(reading.lines[0]!.bytes.toString()), expected);
  });

  test('a tracing ce- header (ce-traceparent) alone leaves a JSON or NDJSON body what it is: not binary mode', () => {
    const trace = { 'ce-traceparent': '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const ndjson = [event('dyno-doors-trace-1', 'trace-1'), event('dyno-doors-trace-2', 'trace-2')]
      .map((e) => JSON.stringify(e))
      .join('\n');
    for (const type of ['application/json', 'application/x-ndjson']) {
      const reading = read({ 'content-type': type, ...trace }, ndjson);
      assert.ok(reading.ok, type);
      assert.deepEqual(
        reading.lines.map((l) => JSON.parse(l.bytes.toString()).id),
        ['trace-1', 'trace-2'],
        type,
      );
    }
  });
});

// POST /v1/events refuses what it cannot read as sent, whole, before anything is
// published: a compressed body (Content-Encoding or Transfer-Encoding), one JSON
// object over several lines that is not JSON, a ce- header holding raw bytes
// outside printable ASCII or an escape that is read two ways, a ce- header or
// Content-Type sent twice, a Content-Type fastify cannot parse.
// Valid NDJSON keeps its rule: a bad line refused alone, the others kept. A
// ce-id means binary mode, so an event without ce-specversion is kept whole.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { headRefusal } from '../src/intake/request-head.ts';
import { eventually } from '@vault/testkit';
import { AUTH, startMetering, type Metering } from './harness.ts';

import { binaryHeaders, event, read } from './doors-fixture.ts';

/** A pretty-printed event with one comma missing, as a person edits one by hand. */
const brokenPretty = () => JSON.stringify(event(), null, 2).replace('"dyno-manager",', '"dyno-manager"');

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

describe('POST /v1/events doors over HTTP (real PostgreSQL, embedded bus)', () => {
  let m: Metering;
  let port: number;
  before(async () => {
    m = await startMetering('embedded');
    await m.http.listen({ port: 0, host: '127.0.0.1' });
    port = (m.http.server.address() as AddressInfo).port;
  });
  after(() => m?.close());

  const published = async () =>
    (await m.db.pool.query(`select count(*)::int as n from bus.messages where topic = $1`, [m.topic])).rows[0].n as number;
  /** A POST over a real socket: header values go out as the bytes of their latin1 text, as a client sends raw UTF-8. */
  const post = (headers: Record<string, string>, body: string | Buffer) =>
    new Promise<{ status: number; headers: Record<string, unknown>; json: { error?: string; accepted?: number; duplicates?: number } }>(
      (resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/events', headers: { ...AUTH, ...headers } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode!, headers: res.headers, json: JSON.parse(Buffer.concat(chunks).toString()) }),
          );
        });
        req.on('error', reject);
        req.end(body);
      },
    );

  test('a gzip body is a 415 naming Content-Encoding, with Accept-Encoding: identity, and nothing of it is published', async () => {
    const before = await published();
    const res = await post({ 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }, gzipSync(JSON.stringify(event())));
    assert.equal(res.status, 415, JSON.stringify(res.json));
    assert.match(res.json.error ?? '', /^Content-Encoding gzip is not one this route reads/);
    assert.equal(res.headers['accept-encoding'], 'identity');
    assert.equal(await published(), before, 'nothing published');
  });

  /** A POST written on a socket as given: header lines (their text as latin1 bytes), then the body as is. */
  const rawPost = (lines: string[], body: Buffer) =>
    new Promise<{ status: number; json: { error?: string; accepted?: number; duplicates?: number } }>((resolve, reject) => {
      const head = ['POST /v1/events HTTP/1.1', 'Host: 127.0.0.1', `Authorization: ${AUTH.authorization}`, 'Connection: close', ...lines];
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body])),
      );
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: Number(text.split(' ')[1]), json: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) });
      });
    });
  const sized = (body: string) => [`Content-Length: ${Buffer.byteLength(body)}`];

  test('Transfer-Encoding gzip, chunked is a 501 naming Transfer-Encoding, and nothing of it is published', async () => {
    const before = await published();
    const gz = gzipSync(`${JSON.stringify(event())}\n${JSON.stringify(event())}\n`);
    const chunked = Buffer.concat([Buffer.from(`${gz.length.toString(16)}\r\n`), gz, Buffer.from('\r\n0\r\n\r\n')]);
    for (const type of ['application/x-ndjson', 'application/json']) {
      const res = await rawPost([`Content-Type: ${type}`, 'Transfer-Encoding: gzip, chunked'], chunked);
      assert.equal(res.status, 501, JSON.stringify(res.json));
      assert.match(res.json.error ?? '', /^Transfer-Encoding gzip is not one this route reads/);
    }
    assert.equal(await published(), before, 'nothing published');
    const plain = `${JSON.stringify(event())}\n`;
    const chunkedPlain = Buffer.from(`${Buffer.byteLength(plain).toString(16)}\r\n${plain}\r\n0\r\n\r\n`);
    const ok = await rawPost(['Content-Type: application/x-ndjson', 'Transfer-Encoding: chunked'], chunkedPlain);
    assert.equal(ok.status, 202, JSON.stringify(ok.json));
  });

  test('a ce- header sent twice in binary mode, or Content-Type twice, is a 400 naming it, nothing published; sent once, the event is accepted', async () => {
    const before = await published();
    const headers = binaryHeaders('dyno-doors-twice');
    const data = JSON.stringify(event().data);
    const lines = (h: Record<string, string>) => [...Object.entries(h).map(([k, v]) => `${k}: ${v}`), ...sized(data)];
    const twice = await rawPost([...lines(headers), `ce-id: ${headers['ce-id']}`], Buffer.from(data));
    assert.equal(twice.status, 400, JSON.stringify(twice.json));
    assert.equal(twice.json.error, 'header ce-id is sent 2 times: a CloudEvents attribute is one header, sent once');
    const sources = await rawPost([...lines(headers), 'ce-source: addon-service'], Buffer.from(data));
    assert.equal(sources.status, 400);
    assert.match(sources.json.error ?? '', /^header ce-source is sent 2 times/);
    const types = await rawPost([...lines(headers), 'Content-Type: application/cloudevents+json'], Buffer.from(data));
    assert.equal(types.status, 400);
    assert.match(types.json.error ?? '', /^header content-type is sent 2 times/);
    assert.equal(await published(), before, 'nothing published');
    const once = await rawPost(lines(headers), Buffer.from(data));
    assert.equal(once.status, 202, JSON.stringify(once.json));
    assert.equal(once.json.accepted, 1, 'its id was never taken by a merged one');
  });

  test('an empty Content-Type is read as none; one fastify cannot parse (json, a byte outside ASCII) is the route’s 415 naming it as received', async () => {
    for (const empty of ['Content-Type:', 'Content-Type:  ']) {
      const one = `${JSON.stringify(event())}\n`;
      const res = await rawPost([empty, ...sized(one)], Buffer.from(one));
      assert.equal(res.status, 202, `${empty}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.accepted, 1);
    }
    const before = await published();
    const ndjson = `${JSON.stringify(event())}\n`;
    const cases: [string, string][] = [
      ['json', '"json"'],
      [Buffer.from('application/jsoné').toString('latin1'), '"application/json\\xc3\\xa9"'],
    ];
    for (const [type, shown] of cases) {
      const res = await rawPost([`Content-Type: ${type}`, ...sized(ndjson)], Buffer.from(ndjson));
      assert.equal(res.status, 415, JSON.stringify(res.json));
      assert.equal(
        res.json.error?.startsWith(`content-type ${shown} is not one this route reads: send application/cloudevents+json (one event)`),
        true,
        res.json.error,
      );
    }
    assert.equal(await published(), before, 'nothing published');
  });

  test('a pretty-printed object with a syntax error is a 400 in every JSON type, nothing published; NDJSON with a bad line still takes the rest', async () => {
    const before = await published();
    for (const type of ['application/json', 'application/x-ndjson', 'application/cloudevents+json']) {
      const res = await post({ 'content-type': type }, brokenPretty());
      assert.equal(res.status, 400, `${type}: ${JSON.stringify(res.json)}`);
      assert.match(res.json.error ?? '', /^body is not JSON/);
    }
    assert.equal(await published(), before, 'nothing published');
    const ndjson = await post({ 'content-type': 'application/x-ndjson' }, `{"id": \n${JSON.stringify(event())}\n`);
    assert.equal(ndjson.status, 202);
    assert.equal(ndjson.json.accepted, 1);
    assert.equal(await published(), before + 2, 'the bad line kept as a rejection, the event beside it');
  });

  test('a ce- header with raw UTF-8 bytes is a 400 naming it, nothing published; percent-encoded, the event equals its structured copy', async () => {
    const before = await published();
    const data = JSON.stringify(event().data);
    const raw = await post(binaryHeaders(Buffer.from('dyné-raw').toString('latin1')), data);
    assert.equal(raw.status, 400, JSON.stringify(raw.json));
    assert.match(raw.json.error ?? '', /^header ce-subject holds the byte 0xc3/);
    assert.equal(await published(), before, 'nothing published');
    const headers = binaryHeaders('dyn%C3%A9-encoded');
    const encoded = await post(headers, data);
    assert.equal(encoded.status, 202, JSON.stringify(encoded.json));
    assert.equal(encoded.json.accepted, 1);
    const copy = await post({ 'content-type': 'application/cloudevents+json' }, JSON.stringify(event('dyné-encoded', headers['ce-id'])));
    assert.deepEqual(copy.json, { accepted: 0, duplicates: 1, rejected: [] }, 'the structured copy is the same event');
  });

  test('a binary-mode event without ce-specversion is rejected naming specversion alone, published under its subject, kept with every attribute, and applied once fixed', async () => {
    const { 'ce-specversion': _, ...headers } = binaryHeaders('dyno-doors-nospec-http');
    const data = event().data;
    const res = await post(headers, JSON.stringify(data));
    assert.equal(res.status, 202, JSON.stringify(res.json));
    const answer = res.json as { accepted: number; rejected: { reasons: { field: string; code: string }[] }[] };
    assert.equal(answer.accepted, 0);
    assert.deepEqual(
      answer.rejected.map((r) => r.reasons.map((x) => [x.field, x.code])),
      [[['specversion', 'required']]],
    );
    const { rows } = await m.db.pool.query(`select key from bus.messages where topic = $1 and convert_from(value, 'UTF8') like $2`, [
      m.topic,
      `%${headers['ce-id']}%`,
    ]);
    assert.deepEqual(
      rows.map((r) => r.key),
      ['dyno-doors-nospec-http'],
      'on its subject’s partition',
    );
    let kept: { id: string; raw: string } | undefined;
    await eventually('the rejection kept', async () => {
      const listed = (await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json() as {
        rejected: { id: string; raw: string; event_id: string }[];
      };
      kept = listed.rejected.find((r) => r.event_id === headers['ce-id']);
      return kept !== undefined;
    });
    const raw = JSON.parse(kept!.raw) as Record<string, unknown>;
    const { specversion: _specversion, ...attributes } = event('dyno-doors-nospec-http', headers['ce-id']);
    assert.deepEqual(raw, attributes, 'every attribute and the data');
    const fixed = await m.http.inject({
      method: 'POST',
      url: `/v1/rejected/${kept!.id}/resubmit`,
      headers: { ...AUTH, 'content-type': 'application/cloudevents+json' },
      payload: JSON.stringify({ ...raw, specversion: '1.0' }),
    });
    assert.equal(fixed.statusCode, 202, fixed.body);
    assert.deepEqual(fixed.json(), { resolved_by: `dyno-manager/${headers['ce-id']}`, duplicate: false });
    await eventually('the fix applied', async () => {
      const stored = await m.db.pool.query('select 1 from metering.event_keys where source = $1 and id = $2', [
        'dyno-manager',
        headers['ce-id'],
      ]);
      return stored.rowCount === 1;
    });
  });

  test('a re-submit reads its fix as POST /v1/events does: gzip is a 415 naming Content-Encoding, nothing published; a binary-mode fix is applied', async () => {
    const bad = { ...event('dyno-doors-resubmit'), time: 'yesterday' };
    const res = await post({ 'content-type': 'application/x-ndjson' }, JSON.stringify(bad));
    assert.equal(res.status, 202, JSON.stringify(res.json));
    let kept: { id: string } | undefined;
    await eventually('the rejection kept', async () => {
      const listed = (await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json() as {
        rejected: { id: string; event_id: string }[];
      };
      kept = listed.rejected.find((r) => r.event_id === bad.id);
      return kept !== undefined;
    });
    const url = `/v1/rejected/${kept!.id}/resubmit`;
    const before = await published();
    const gz = await m.http.inject({
      method: 'POST',
      url,
      headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync(JSON.stringify({ ...bad, time: '2026-10-01T00:00:00Z' })),
    });
    assert.equal(gz.statusCode, 415, gz.body);
    assert.match(gz.json().error, /^Content-Encoding gzip is not one this route reads: send the body uncompressed/);
    assert.equal(gz.headers['accept-encoding'], 'identity');
    assert.equal(await published(), before, 'nothing published');
    const attributes = {
      specversion: '1.0',
      id: bad.id,
      source: bad.source,
      type: bad.type,
      time: '2026-10-01T00:00:00Z',
      subject: bad.subject,
    };
    const fixed = await m.http.inject({
      method: 'POST',
      url,
      headers: {
        ...AUTH,
        'content-type': 'application/json',
        ...Object.fromEntries(Object.entries(attributes).map(([k, v]) => [`ce-${k}`, v])),
        'ce-sequence': '1',
      },
      payload: JSON.stringify(bad.data),
    });
    assert.equal(fixed.statusCode, 202, fixed.body);
    assert.deepEqual(fixed.json(), { resolved_by: `dyno-manager/${bad.id}`, duplicate: false });
    await eventually('the binary-mode fix applied', async () => {
      const stored = await m.db.pool.query('select 1 from metering.event_keys where source = $1 and id = $2', ['dyno-manager', bad.id]);
      return stored.rowCount === 1;
    });
  });
});

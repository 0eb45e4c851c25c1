// POST /v1/events' doors (intake-doors.test.ts) over a real socket, with the real
// PostgreSQL and the embedded bus: what is refused is refused whole, nothing of it
// published; what is read is published and applied.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { eventually } from '@vault/testkit';
import { AUTH, startMetering, type Metering } from './harness.ts';
import { binaryHeaders, brokenPretty, event } from './doors-fixture.ts';

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
  /** The pending rejection kept for event `eventId`, once metering has kept it. */
  const keptRejection = async (eventId: string) => {
    let kept: { id: string } | undefined;
    await eventually('the rejection kept', async () => {
      const listed = (await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json() as {
        rejected: { id: string; event_id: string }[];
      };
      kept = listed.rejected.find((r) => r.event_id === eventId);
      return kept !== undefined;
    });
    return kept!;
  };
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
    const kept = await keptRejection(bad.id);
    const url = `/v1/rejected/${kept.id}/resubmit`;
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
  test('a query parameter on POST /v1/events, a re-submit or GET /v1/stats (?dry_run=true) is a 400 naming it, nothing published', async () => {
    const before = await published();
    const sent = await m.http.inject({
      method: 'POST',
      url: '/v1/events?dry_run=true',
      headers: { ...AUTH, 'content-type': 'application/cloudevents+json' },
      payload: JSON.stringify(event('dyno-doors-dry-run')),
    });
    assert.equal(sent.statusCode, 400, sent.body);
    assert.match(sent.json().error, /^invalid query: dry_run: /);
    assert.equal(await published(), before, 'nothing published');

    const bad = { ...event('dyno-doors-dry-run-resubmit'), time: 'yesterday' };
    assert.equal((await post({ 'content-type': 'application/x-ndjson' }, JSON.stringify(bad))).status, 202);
    const kept = await keptRejection(bad.id);
    const afterBad = await published();
    const resubmit = await m.http.inject({
      method: 'POST',
      url: `/v1/rejected/${kept.id}/resubmit?dry_run=1`,
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify({ ...bad, time: '2026-10-01T00:00:00Z' }),
    });
    assert.equal(resubmit.statusCode, 400, resubmit.body);
    assert.match(resubmit.json().error, /^invalid query: dry_run: /);
    assert.equal(await published(), afterBad, 'nothing published');
    const still = (await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json() as { rejected: { id: string }[] };
    assert.ok(
      still.rejected.some((r) => r.id === kept.id),
      'the rejection is still pending',
    );

    const stats = await m.http.inject({ method: 'GET', url: '/v1/stats?verbose=1', headers: AUTH });
    assert.equal(stats.statusCode, 400, stats.body);
    assert.match(stats.json().error, /^invalid query: verbose: /);
    assert.equal((await m.http.inject({ method: 'GET', url: '/v1/stats', headers: AUTH })).statusCode, 200);
  });
});

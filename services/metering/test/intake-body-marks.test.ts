// POST /v1/events and a re-submit read a body the same way: one leading UTF-8 byte order mark is
// dropped in every content type (as vault publish drops it), UTF-16 is refused, and a re-submit's
// fix honours Content-Encoding, the content type and binary mode as the events route does.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readResubmitBody } from '../src/intake/resubmit-body.ts';
import { binaryHeaders, event, read } from './doors-fixture.ts';

describe('POST /v1/events doors (pure): byte order marks, and a re-submit’s body', () => {
  test('one leading UTF-8 byte order mark is dropped in every content type, as vault publish drops it; UTF-16 is a 415', () => {
    const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
    const withBom = (text: string) => Buffer.concat([BOM, Buffer.from(text)]);
    const one = event('dyno-doors-bom', 'bom-1');
    const two = event('dyno-doors-bom', 'bom-2');
    const ids = (reading: ReturnType<typeof read>) => {
      assert.ok(reading.ok, JSON.stringify(reading));
      return reading.lines.map((l) => {
        assert.notEqual(l.bytes[0], 0xef, 'no BOM left on a line');
        return JSON.parse(l.bytes.toString()).id as string;
      });
    };
    const cases: [string, Record<string, string>, string, string[]][] = [
      ['structured', { 'content-type': 'application/cloudevents+json' }, JSON.stringify(one, null, 2), ['bom-1']],
      ['batched', { 'content-type': 'application/cloudevents-batch+json' }, JSON.stringify([one, two]), ['bom-1', 'bom-2']],
    ];
    for (const type of ['application/json', 'application/x-ndjson', 'application/ndjson', undefined]) {
      const h: Record<string, string> = type ? { 'content-type': type } : {};
      cases.push([`${type} array`, h, JSON.stringify([one, two]), ['bom-1', 'bom-2']]);
      cases.push([`${type} NDJSON`, h, `${JSON.stringify(one)}\n${JSON.stringify(two)}\n`, ['bom-1', 'bom-2']]);
      cases.push([`${type} pretty object`, h, JSON.stringify(one, null, 2), ['bom-1']]);
    }
    const binary = binaryHeaders('dyno-doors-bom-binary');
    cases.push(['binary', binary, JSON.stringify(one.data), [binary['ce-id']!]]);
    for (const [what, headers, text, want] of cases) {
      assert.deepEqual(ids(read(headers, withBom(text))), want, what);
      assert.deepEqual(ids(read(headers, text)), want, `${what}, without the BOM: the same`);
    }
    // One mark is dropped, as vault publish drops one: a second is the body's.
    const twice = read({ 'content-type': 'application/cloudevents+json' }, Buffer.concat([BOM, withBom(JSON.stringify(one))]));
    assert.ok(!twice.ok);
    for (const mark of [Buffer.from([0xff, 0xfe]), Buffer.from([0xfe, 0xff])]) {
      for (const type of ['application/json', 'application/x-ndjson', 'application/cloudevents+json']) {
        const reading = read({ 'content-type': type }, Buffer.concat([mark, Buffer.from(JSON.stringify(one), 'utf16le')]));
        assert.ok(!reading.ok, type);
        assert.equal(reading.status, 415);
        assert.equal(reading.error, 'body is UTF-16 text (its byte order mark says so): events are UTF-8');
      }
    }
  });

  test('a re-submit’s body is read as POST /v1/events reads it: gzip is a 415 naming Content-Encoding, binary mode its event, one event or a 400', () => {
    const fix = event('dyno-doors-fix', 'fix-1');
    const gz = readResubmitBody({ 'content-type': 'application/json', 'content-encoding': 'gzip' }, gzipSync(JSON.stringify(fix)));
    assert.ok(!gz.ok);
    assert.equal(gz.status, 415);
    assert.match(gz.error, /^Content-Encoding gzip is not one this route reads/);
    assert.deepEqual(gz.headers, { 'accept-encoding': 'identity' });
    const headers = binaryHeaders('dyno-doors-fix-binary');
    const binary = readResubmitBody(headers, Buffer.from(JSON.stringify(fix.data)));
    assert.ok(binary.ok && binary.bytes);
    assert.deepEqual(JSON.parse(binary.bytes.toString()), { ...event('dyno-doors-fix-binary', headers['ce-id']) });
    // Binary mode with no data is an event of its headers alone, not "the kept one again".
    const bare = readResubmitBody(headers, Buffer.alloc(0));
    assert.ok(bare.ok && bare.bytes);
    assert.equal(JSON.parse(bare.bytes.toString()).id, headers['ce-id']);
    const bom = readResubmitBody(
      { 'content-type': 'application/json' },
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(fix))]),
    );
    assert.ok(bom.ok && bom.bytes);
    assert.equal(bom.bytes.toString(), JSON.stringify(fix));
    assert.deepEqual(readResubmitBody({}, Buffer.from(' \n')), { ok: true }, 'no body: the kept event as it was');
    assert.deepEqual(readResubmitBody({}, undefined), { ok: true });
    const two = readResubmitBody({ 'content-type': 'application/json' }, Buffer.from(JSON.stringify([fix, fix])));
    assert.ok(!two.ok);
    assert.equal(two.status, 400);
    assert.match(two.error, /^a re-submit carries one event .*: this body holds 2; send several events to POST \/v1\/events$/);
    const text = readResubmitBody({ 'content-type': 'text/plain' }, Buffer.from(JSON.stringify(fix)));
    assert.ok(!text.ok);
    assert.equal(text.status, 415);
    assert.match(text.error, /^content-type text\/plain is not one this route reads/);
  });
});

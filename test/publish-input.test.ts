// How `vault publish` reads its input (pure): the format it tells from the head, the input it
// refuses before publishing, and how a JSON array's elements (or JSON values) are split,
// resynchronised after brackets that do not match, whatever the chunks.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_EVENT_BYTES } from '@vault/contracts';
import type { PublishItem } from '@vault/metering/publish';
import { readEventInput } from '../scripts/cli/publish-input.ts';
import { invalidUtf8At, unreadableHead } from '../scripts/cli/publish-head.ts';
import { JsonValuesSplitter, type Framing } from '../scripts/cli/publish-json-values.ts';

async function* chunks(...parts: (string | Buffer)[]) {
  for (const p of parts) yield Buffer.from(p);
}

const shown = (items: PublishItem[]) =>
  items.map((i) =>
    'bytes' in i
      ? `${i.index}:${i.bytes.toString()}`
      : 'refused' in i
        ? `${i.index}:refused ${i.refused.message}`
        : `${i.index}:too long ${i.tooLong}`,
  );

/** The items and the problem of `text` split in chunks of `size` bytes. */
function split(framing: Framing, text: string, size: number) {
  const splitter = new JsonValuesSplitter(framing);
  const bytes = Buffer.from(text);
  const items: PublishItem[] = [];
  for (let i = 0; i < bytes.length; i += size) items.push(...splitter.push(bytes.subarray(i, i + size)));
  items.push(...splitter.end());
  return { items: shown(items), problem: splitter.problem };
}

/** The same for every chunk size. */
function splitAnyhow(framing: Framing, text: string) {
  const whole = split(framing, text, text.length + 1);
  for (const size of [1, 2, 3, 7, 64]) assert.deepEqual(split(framing, text, size), whole, `chunks of ${size}`);
  return whole;
}

const ev = (id: string) => `{"id":"${id}","data":{"a":[1,2]}}`;

describe('`vault publish` reads its input (pure)', () => {
  test('the format: `[` an array; `{` alone on its line, or an object over several lines that is JSON, JSON values; else NDJSON', async () => {
    const format = async (text: string) => (await readEventInput(chunks(text))).format;
    assert.equal(await format('  [1, 2]'), 'json-array');
    assert.equal(await format('{\n  "id": "a"\n}\n'), 'json-values');
    assert.equal(await format('\uFEFF{\r\n  "id": "a"\r\n}\r\n{\n  "id": "b"\n}\n'), 'json-values');
    assert.equal(await format('{ "id": "a",\n  "data": {} }\n'), 'json-values');
    assert.equal(await format(`${ev('a')}\n${ev('b')}\n`), 'ndjson');
    // A first line cut short, then whole lines: NDJSON, as POST /v1/events reads it; the broken line refused alone.
    assert.equal(await format(`{"specversion": "1.0", "id": \n${ev('b')}\n`), 'ndjson');
    assert.equal(await format('{"a": nope}\n{"b": 1}\n'), 'ndjson');
    assert.equal(await format('not json\n'), 'ndjson');
  });

  test('a live input: its format is told from what came before it paused, the rest of the head is not waited for', async () => {
    async function* live() {
      yield Buffer.from(`${ev('a')}\n`);
      await new Promise(() => {}); // the pipe held open
    }
    const started = performance.now();
    const input = await readEventInput(live(), { idleMs: 50 });
    assert.equal(input.format, 'ndjson');
    assert.ok(performance.now() - started < 2_000);
  });

  test('refused before anything is published: compressed, NUL bytes, invalid UTF-8; a character cut by the head is let be', () => {
    assert.match(
      unreadableHead(Buffer.from([0x1f, 0x8b, 8, 0]), false, 'a.gz')!,
      /^it is gzip-compressed: decompress it first \(gunzip -c a\.gz \| vault publish -\)/,
    );
    assert.match(
      unreadableHead(Buffer.from('BZh91AY&SY'), false, undefined)!,
      /^it is bzip2-compressed: decompress it first \(… \| bzip2 -dc \| vault publish -\)/,
    );
    assert.match(unreadableHead(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]), false, 'x')!, /^it is xz-compressed/);
    assert.match(unreadableHead(Buffer.from('{"a":1}\n{"b"\0}'), true, 'x')!, /^it holds a NUL byte \(byte 13, line 2\)/);
    assert.match(unreadableHead(Buffer.from('{"a":"caf\xe9"}', 'latin1'), true, 'x')!, /^it is not UTF-8 text \(byte 10, line 1: 0xe9/);
    assert.equal(unreadableHead(Buffer.from('{"a":"café ✓ 😀"}\n'), true, 'x'), undefined);
    assert.equal(unreadableHead(Buffer.from('BZh is not bzip2 without its digit'), true, 'x'), undefined);
    const cut = Buffer.from('{"a":"😀"}').subarray(0, 8);
    assert.equal(invalidUtf8At(cut, false), -1);
    assert.equal(invalidUtf8At(cut, true), 6);
    // Overlong, surrogate, past U+10FFFF, a lone continuation byte.
    for (const bad of [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]])
      assert.equal(invalidUtf8At(Buffer.from(bad), true), 0);
  });

  test('a closer that does not match makes its element rejected, naming it and the line; the elements after it are read', () => {
    const r = splitAnyhow('array', `[${ev('e0')}, ${ev('e1')},\n{"data":[1}, ${ev('e3')}, ${ev('e4')}, ${ev('e5')}]`);
    assert.deepEqual(r.items, [
      `0:${ev('e0')}`,
      `1:${ev('e1')}`,
      '2:refused not JSON: } on line 2 closes [ (opened on line 2) in element [2]',
      `3:${ev('e3')}`,
      `4:${ev('e4')}`,
      `5:${ev('e5')}`,
    ]);
    assert.equal(r.problem, undefined);
    // A closer that matches none of the element's brackets ends it there; the leftovers before the next , are skipped.
    assert.deepEqual(splitAnyhow('array', `[${ev('a')}, {"data":1]}, ${ev('c')}]`).items, [
      `0:${ev('a')}`,
      '1:refused not JSON: ] on line 1 closes { (opened on line 1) in element [1]',
      `2:${ev('c')}`,
    ]);
    // A ] with nothing after it still ends the array.
    assert.deepEqual(splitAnyhow('array', `[${ev('a')}, {"a":1 ]\n`), {
      items: [`0:${ev('a')}`, '1:refused not JSON: ] on line 1 closes { (opened on line 1) in element [1]'],
      problem: undefined,
    });
    // JSON values: the same, the next value read.
    assert.deepEqual(splitAnyhow('values', '{\n  "a": [1\n}\n{"b":2}\n').items, [
      '0:refused not JSON: } on line 3 closes [ (opened on line 2) in value [0]',
      '1:{"b":2}',
    ]);
  });

  test('JSON values: pretty-printed objects one after another, on one line each; a broken frame named; one the input ends inside never given', () => {
    assert.deepEqual(splitAnyhow('values', '{\n  "a": 1\n}\n{\n  "b": [\n    1,\n    2\n  ]\n}\n'), {
      items: ['0:{   "a": 1 }', '1:{   "b": [     1,     2   ] }'],
      problem: undefined,
    });
    assert.deepEqual(splitAnyhow('values', '{"a":1}\n,{"b":2}'), {
      items: ['0:{"a":1}'],
      problem: 'line 2: expected { to start value [1], found ,',
    });
    assert.deepEqual(splitAnyhow('values', '{"a":1}\n{\n  "b": 2\n'), {
      items: ['0:{"a":1}'],
      problem: 'the input ended inside value [1] (begun on line 2)',
    });
  });

  test('an element over 64 KiB is refused by its size as it is read, holding no more than the limit; strings hide brackets', () => {
    const pad = 'x'.repeat(70_000);
    const splitter = new JsonValuesSplitter('array');
    const text = Buffer.from(`[${ev('a')}, {"pad":"${pad}"}, "${pad}", ${ev('d')}]`);
    const items: PublishItem[] = [];
    for (let i = 0; i < text.length; i += 4096) {
      items.push(...splitter.push(text.subarray(i, i + 4096)));
      assert.ok(splitter.held <= MAX_EVENT_BYTES, `${splitter.held} bytes held`);
    }
    items.push(...splitter.end());
    assert.deepEqual(shown(items), [`0:${ev('a')}`, `1:too long ${pad.length + 10}`, `2:too long ${pad.length + 2}`, `3:${ev('d')}`]);
    assert.deepEqual(splitAnyhow('array', '[{"s":"a\\"}]b"}, 2]').items, ['0:{"s":"a\\"}]b"}', '1:2']);
  });
});

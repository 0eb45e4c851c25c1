import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ndjsonLines, type IntakeLine } from '../src/intake/intake.ts';
import { arrayOrNdjson, type BodyReading } from '../src/intake/read-body.ts';

const text = (lines: IntakeLine[]) => lines.map((l) => [l.index, l.bytes.toString()]);
const splitBody = (body: Buffer): IntakeLine[] => {
  const reading: BodyReading = arrayOrNdjson(body);
  if (!reading.ok) throw new SyntaxError(reading.error);
  return reading.lines;
};

describe('splitting intake bodies into lines (pure)', () => {
  test('NDJSON: CRLF trimmed, blank lines skipped but counted, so index + 1 is the line number', () => {
    assert.deepEqual(text(splitBody(Buffer.from('{"a":1}\r\n\n  \n{"b":2}\n'))), [
      [0, '{"a":1}'],
      [3, '{"b":2}'],
    ]);
  });

  test('a stream cut into chunks keeps counting lines where the last chunk stopped', () => {
    const first = ndjsonLines(Buffer.from('x\n\ny'), 0);
    assert.deepEqual(text(first.lines), [
      [0, 'x'],
      [2, 'y'],
    ]);
    assert.equal(first.nextIndex, 3);
    assert.deepEqual(text(ndjsonLines(Buffer.from('z'), first.nextIndex).lines), [[3, 'z']]);
  });

  test('a JSON array: each element is one line, by array index; a broken array throws', () => {
    assert.deepEqual(text(splitBody(Buffer.from(' [{"a":1}, 2, "s"]'))), [
      [0, '{"a":1}'],
      [1, '2'],
      [2, '"s"'],
    ]);
    assert.throws(() => splitBody(Buffer.from('[{"a":1},')), /^SyntaxError: body is not a JSON array: /);
  });

  test('a JSON array element is kept as the bytes it was sent as (1e400 stays 1e400, escapes and key order too), nesting and strings with brackets and commas followed', () => {
    const body = Buffer.from('[ {"sequence":1e400, "id":"a,]}\\"["},\n  {"b":[1,{"c":"]"}]} ,"x\\u0041" , 7 ]\n');
    assert.deepEqual(text(splitBody(body)), [
      [0, '{"sequence":1e400, "id":"a,]}\\"["}'],
      [1, '{"b":[1,{"c":"]"}]}'],
      [2, '"x\\u0041"'],
      [3, '7'],
    ]);
    assert.deepEqual(text(splitBody(Buffer.from('[{"a":1}]'))), [[0, '{"a":1}']]);
  });

  test('a JSON array that is not UTF-8 is refused whole, never read with U+FFFD in place of its bytes (two ids would become one)', () => {
    const body = Buffer.concat([Buffer.from('[{"id":"a'), Buffer.from([0xff]), Buffer.from('"},{"id":"b"}]')]);
    assert.throws(() => splitBody(body), /^SyntaxError: body is not a JSON array: not UTF-8$/);
    // NDJSON keeps its per-line reading: the line's bytes go on as sent, judged (and refused) alone.
    const ndjson = Buffer.concat([Buffer.from('{"id":"a'), Buffer.from([0xff]), Buffer.from('"}\n{"id":"b"}')]);
    assert.deepEqual(
      splitBody(ndjson).map((l) => l.bytes.includes(0xff)),
      [true, false],
    );
  });

  test('a pretty-printed object over several lines is one event, kept as received without the whitespace around it', () => {
    const pretty = '{\n  "a": 1,\n  "b": [\n    2\n  ]\n}';
    assert.deepEqual(text(splitBody(Buffer.from(`\n${pretty}\n\n`))), [[0, pretty]]);
    // Two objects are NDJSON, even when one of them spans lines: the one over lines is not JSON alone.
    assert.deepEqual(text(splitBody(Buffer.from('{"a":1}\n{"b":\n2}'))), [
      [0, '{"a":1}'],
      [1, '{"b":'],
      [2, '2}'],
    ]);
  });
});

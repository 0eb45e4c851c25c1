import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type pg from 'pg';
import { formatReasons, MAX_EVENT_BYTES, type IntakeRejection } from '@vault/contracts';
import type { Bus } from '@vault/bus';
import { judge } from '../src/domain/judge.ts';
import { ndjsonLines } from '../src/intake/intake.ts';
import { publishStream } from '../src/intake/publish-stream.ts';
import { StreamLines, type StreamLine } from '../src/intake/stream-lines.ts';

const CHUNK = 64 * 1024;
const BIG = 20 * 1024 * 1024;

/** One NDJSON line of `size` bytes (an event with a long padding), in CHUNK-sized pieces, then `after`. */
function* longLine(size: number, after = ''): Generator<Buffer> {
  const head = Buffer.from('{"id":"big-1","padding":"');
  yield head;
  const piece = Buffer.alloc(CHUNK, 0x78);
  let left = size - head.length - 2;
  while (left > 0) {
    const n = Math.min(left, CHUNK);
    yield n === CHUNK ? piece : piece.subarray(0, n);
    left -= n;
  }
  yield Buffer.from(`"}\n${after}`);
}

const shown = (lines: StreamLine[]) => lines.map((l) => ('bytes' in l ? [l.index, l.bytes.toString()] : [l.index, l.tooLong]));

describe('`vault publish` reads NDJSON lines with bounded memory (pure)', () => {
  test('one 20 MB line in 64 KiB chunks: never more than the limit held, handed on as its size alone, the next line whole', () => {
    const reader = new StreamLines();
    const out: StreamLine[] = [];
    let most = 0;
    for (const chunk of longLine(BIG, '{"a":1}\r\n')) {
      out.push(...reader.push(chunk));
      most = Math.max(most, reader.held);
      assert.ok(reader.held <= MAX_EVENT_BYTES + 1, `held ${reader.held} bytes`);
    }
    out.push(...reader.end());
    assert.ok(most > 0 && most <= MAX_EVENT_BYTES + 1);
    assert.deepEqual(shown(out), [
      [0, BIG],
      [1, '{"a":1}'],
    ]);
  });

  test('over the limit whatever the chunks (even held whole in one), CR before LF not counted, a blank line skipped but counted', () => {
    const limit = 8;
    const run = (chunks: string[]) => {
      const reader = new StreamLines(limit);
      const out = chunks.flatMap((c) => reader.push(Buffer.from(c)));
      return shown([...out, ...reader.end()]);
    };
    const input = '{"x":"1234"}\r\n          \nok\n123456789';
    const expected = [
      [0, 12],
      [2, 'ok'],
      [3, 9],
    ];
    assert.deepEqual(run([input]), expected, 'held whole in one chunk');
    assert.deepEqual(run(['{"x":"12', '34"}\r', '\n     ', '     \nok\n1234', '56789']), expected);
    assert.deepEqual(run(['12345678\r', '\n']), [[0, '12345678']], 'a CR ending a line of the limit is no part of it');
  });

  test('lines as ndjsonLines reads the whole input (over the limit: their size), for any chunking', () => {
    const limit = 6;
    const text = fc.string({ unit: fc.constantFrom('a', ' ', '\n', '\r', '{', 'é') });
    fc.assert(
      fc.property(text, fc.array(fc.nat(40)), (input, cuts) => {
        const whole = Buffer.from(input);
        const expected = ndjsonLines(whole, 0).lines.map((l) =>
          l.bytes.length > limit ? [l.index, l.bytes.length] : [l.index, l.bytes.toString()],
        );
        const reader = new StreamLines(limit);
        const out: StreamLine[] = [];
        let at = 0;
        for (const cut of [...cuts.sort((a, b) => a - b), whole.length]) {
          const end = Math.min(Math.max(cut, at), whole.length);
          out.push(...reader.push(whole.subarray(at, end)));
          assert.ok(reader.held <= limit + 1);
          at = end;
        }
        assert.deepEqual(shown([...out, ...reader.end()]), expected);
      }),
      { numRuns: 2000 },
    );
  });

  test('publishStream refuses a 20 MB line with the reason the intake gives it, without handing it to the intake', async () => {
    const untouched = new Proxy({} as never, {
      get: () => {
        throw new Error('the intake was asked');
      },
    });
    const rejected: IntakeRejection[] = [];
    const summary = await publishStream({ bus: untouched as Bus, pool: untouched as pg.Pool, topic: 't' }, Readable.from(longLine(BIG)), {
      onRejected: (r) => void rejected.push(...r),
    });
    // What POST /v1/events (the intake's judge) answers for a line of that size.
    const intake = judge([{ bytes: Buffer.alloc(BIG, 0x78), receivedAtMs: 0 }], 0).invalid[0]!.reasons;
    assert.deepEqual(summary, { lines: 1, accepted: 0, duplicates: 0, rejected: 1 });
    assert.deepEqual(rejected, [{ index: 0, id: null, reason: formatReasons(intake), reasons: intake }]);
    assert.equal(rejected[0]!.reason, `the event is ${BIG} bytes, more than the 65536 (64 KiB) one event may be`);
  });

  test('an input that ended on its own before Ctrl-C stopped the reading: its last line cut short is judged (refused), not dropped unsaid', async () => {
    const untouched = new Proxy({} as never, {
      get: () => {
        throw new Error('the intake was asked');
      },
    });
    const stop = new AbortController();
    // The writer killed by the same Ctrl-C: its output ends mid-line, then our signal is seen.
    stop.abort();
    const cut = Buffer.alloc(70 * 1024, 0x78);
    const run = (cutShort: boolean) =>
      publishStream({ bus: untouched as Bus, pool: untouched as pg.Pool, topic: 't' }, Readable.from([cut]), {
        signal: stop.signal,
        cutShort: () => cutShort,
      });
    assert.deepEqual(await run(false), { lines: 1, accepted: 0, duplicates: 0, rejected: 1 });
    // Stopped by the signal before the input's end, the line begun is not published and not judged.
    assert.deepEqual(await run(true), { lines: 0, accepted: 0, duplicates: 0, rejected: 0 });
  });
});

// openExportStream hands the route a stream of an export whose first batch was already read, so its
// generator holds a pooled client and an open transaction before the stream is ever read. A
// wrapping generator destroyed before its first read never ran its `finally`: the client was lost
// for good. streamOfStarted must return the export's generator exactly once, whenever it is destroyed.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { streamOfStarted } from '../src/exports/stream.ts';

/** A stand-in for exportCsv: `released` counts its `finally` (where the real one rolls back and releases). */
function fakeExport(opts: { failAt?: number } = {}) {
  const seen = { released: 0, returns: 0 };
  async function* chunks(): AsyncGenerator<string, unknown, undefined> {
    try {
      for (let i = 0; i < 3; i++) {
        if (i === opts.failAt) throw new Error('fetch failed');
        yield `row${i}\r\n`;
      }
      return 'summary';
    } finally {
      seen.released++;
    }
  }
  const gen = chunks();
  const realReturn = gen.return.bind(gen);
  gen.return = (value) => {
    seen.returns++;
    return realReturn(value);
  };
  return { gen, seen };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('streamOfStarted: the export started before its stream is read', () => {
  test('destroyed before its first read, it returns the export once, which releases its client', async () => {
    const { gen, seen } = fakeExport();
    const stream = streamOfStarted(gen, await gen.next());
    stream.destroy();
    await settle();
    assert.deepEqual(seen, { released: 1, returns: 1 });
  });

  test('destroyed midway, after its first chunk, it returns the export once', async () => {
    const { gen, seen } = fakeExport();
    const stream = streamOfStarted(gen, await gen.next());
    const first = await new Promise<string>((resolve) => stream.once('data', (c: Buffer) => resolve(c.toString())));
    assert.equal(first, 'row0\r\n', 'the first result taken before is the first chunk');
    stream.destroy();
    await settle();
    assert.deepEqual(seen, { released: 1, returns: 1 });
  });

  test('read to its end and destroyed again, every chunk in order, the export returned once at most', async () => {
    const { gen, seen } = fakeExport();
    const stream = streamOfStarted(gen, await gen.next());
    let out = '';
    await pipeline(
      stream,
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          out += chunk.toString();
          done();
        },
      }),
    );
    stream.destroy();
    await settle();
    assert.equal(out, 'row0\r\nrow1\r\nrow2\r\n');
    assert.equal(seen.released, 1);
    assert.ok(seen.returns <= 1, `returned ${seen.returns} times`);
  });

  test('a chunk that fails midway fails the stream with its error; the export released once', async () => {
    const { gen, seen } = fakeExport({ failAt: 1 });
    const stream = streamOfStarted(gen, await gen.next());
    await assert.rejects(pipeline(stream, new Writable({ write: (_c, _e, done) => done() })), /fetch failed/);
    await settle();
    assert.equal(seen.released, 1);
    assert.ok(seen.returns <= 1, `returned ${seen.returns} times`);
  });
});

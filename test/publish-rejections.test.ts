// `vault publish` of many invalid lines: each chunk's rejections are printed as soon as
// that chunk is on the bus and then forgotten, so memory stays bounded whatever the input
// (200,000 such lines used to be held to the end: 667 MB, or V8's fatal heap error under
// a small heap, after publishing everything and before any summary). Embedded bus.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, uniqueName, type TestDatabase } from '@vault/testkit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** More than one chunk of `vault publish` (5,000 lines). */
const FIRST = 6_000;
const TOTAL = 80_000;
/** Too small for TOTAL lines' rejections when they were all kept (70,000 died of V8's heap error). */
const HEAP_MB = 96;

const invalid = (from: number, to: number) => {
  let text = '';
  for (let i = from; i < to; i++) text += `{"specversion":"1.0","id":"bad-${i}","type":"nope"}\n`;
  return text;
};

describe('`vault publish` of many rejected lines', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('publish_rejections');
  });
  after(() => db.drop());

  test('each chunk’s rejections are printed as soon as it is on the bus, before the input ends, and 80,000 fit a 96 MB heap: summary and exit 1', {
    timeout: 300_000,
  }, async () => {
    const child = spawn(process.execPath, ['bin/vault.js', 'publish'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        KAFKA_BROKERS: undefined,
        BILLING_EVENTS_TOPIC: uniqueName('rejections'),
        NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}`,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const firstPrinted = new Promise<boolean>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (/^line 1 \(id bad-0\): /m.test(stderr)) resolve(true);
      });
      child.on('close', () => resolve(false));
      setTimeout(() => resolve(false), 60_000).unref();
    });
    child.stdin.on('error', () => {});

    // The first chunk and more, the input left open: its rejections must come now, not at the end.
    child.stdin.write(invalid(0, FIRST));
    const early = await firstPrinted;
    if (!early) child.kill('SIGKILL');
    assert.ok(early, `no rejection printed while the input was still open; stderr: ${stderr.slice(0, 500)}`);

    for (let i = FIRST; i < TOTAL; i += 2_000) {
      if (!child.stdin.write(invalid(i, Math.min(i + 2_000, TOTAL)))) await new Promise((r) => child.stdin.once('drain', r));
    }
    child.stdin.end();
    const status = await exited;

    assert.doesNotMatch(stderr.slice(-2_000), /heap out of memory|FATAL ERROR/);
    assert.equal(status, 1, stderr.slice(-2_000));
    assert.match(
      stdout,
      new RegExp(`^published ${TOTAL} lines to \\S+ \\(embedded bus\\): 0 accepted, 0 duplicate, ${TOTAL} rejected in `, 'm'),
    );
    const lines = stderr.split('\n').filter((l) => l.startsWith('line '));
    assert.equal(lines.length, TOTAL);
    // Today's format, in input order.
    assert.ok(
      lines.every((l, i) => l.startsWith(`line ${i + 1} (id bad-${i}): `)),
      lines.find((l, i) => !l.startsWith(`line ${i + 1} (id bad-${i}): `)),
    );
  });
});

// `vault publish` never puts fragments or junk on the bus: a pretty-printed event (or `jq .`
// of several) is read as whole JSON values, not as NDJSON lines; compressed, binary or
// non-UTF-8 input is refused before anything is published; an array element whose brackets
// do not match is rejected alone and the elements after it are read; an element over 64 KiB
// is refused by its size without being held. On the embedded bus of a fresh database, each
// test with a topic of its own.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, uniqueName, vault, type TestDatabase } from '@vault/testkit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A valid event of October's kind (docs/contracts' shape), its id and subject its own. */
function event(id: string) {
  return {
    specversion: '1.0',
    id,
    source: 'app-registry',
    type: 'app.owner_changed',
    time: '2026-10-01T00:00:00Z',
    subject: `${id}-app`,
    sequence: 1,
    data: { app_id: `${id}-app`, account_id: `${id}-acct` },
  };
}

/** `jq .`'s layout: two-space indents, one member a line. */
const pretty = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

describe('`vault publish` puts no fragments or junk on the bus', () => {
  let db: TestDatabase;
  let dir: string;
  before(async () => {
    db = await freshDatabase('publish_safety');
    dir = mkdtempSync(join(tmpdir(), 'vault-publish-safety-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  const file = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  /** The messages on `topic`, as text; none when it was never created. */
  async function messages(topic: string): Promise<string[]> {
    const rows = await db.pool
      .query<{ value: Buffer }>('select value from bus.messages where topic = $1 order by published_at, partition, "offset"', [topic])
      .catch(() => ({ rows: [] }));
    return rows.rows.map((m) => m.value.toString('utf8'));
  }

  async function publish(args: string[], input: string | Buffer = '') {
    const topic = uniqueName('safety');
    const r = await vault(
      ['publish', ...args],
      { DATABASE_URL: db.url, KAFKA_BROKERS: undefined, BILLING_EVENTS_TOPIC: topic },
      input as string,
    );
    return { ...r, topic, messages: await messages(topic) };
  }

  test('a pretty-printed event (`jq .`) is one event, not 12 junk lines; `jq .` of 3 is 3 events; nothing rejected', async () => {
    const one = event('pretty-one');
    const r = await publish([file('event.json', pretty(one))]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^published 1 JSON values to \S+ \(embedded bus\): 1 accepted, 0 duplicate, 0 rejected/m, r.stderr);
    assert.equal(r.messages.length, 1, r.messages.join('\n'));
    assert.deepEqual(JSON.parse(r.messages[0]!), one);

    const three = [event('pretty-a'), event('pretty-b'), event('pretty-c')];
    const stdin = await publish(['-'], three.map(pretty).join(''));
    assert.equal(stdin.status, 0, stdin.stderr);
    assert.match(stdin.stdout, /^published 3 JSON values .*: 3 accepted, 0 duplicate, 0 rejected/m, stdin.stderr);
    // Each on its subject's partition: compared by id.
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    assert.deepEqual(stdin.messages.map((m) => JSON.parse(m) as { id: string }).sort(byId), three);
    assert.doesNotMatch(stdin.stderr, /^(line|value) /m);
  });

  test('a pretty-printed value whose brackets do not match is rejected alone, named, never published; the next is read', async () => {
    const bad = '{\n  "id": "pretty-bad",\n  "data": [1\n}\n';
    const r = await publish(['-'], bad + pretty(event('pretty-after')));
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /published 2 JSON values .*: 1 accepted, 0 duplicate, 1 rejected/, r.stderr);
    assert.match(r.stderr, /^value \[0\]: not JSON: } on line 4 closes \[ \(opened on line 3\) in value \[0\]$/m);
    assert.equal(r.messages.length, 1, r.messages.join('\n'));
  });

  test('gzip, zstd, a zip archive, NUL bytes, invalid UTF-8 in the first 64 KiB: one line naming it, exit 1, nothing on the bus', async () => {
    const ndjson = Array.from({ length: 300 }, (_, i) => `${JSON.stringify(event(`gz-${i}`))}\n`).join('');
    const gz = file('sim.ndjson.gz', gzipSync(ndjson));
    const gzip = await publish([gz]);
    assert.equal(gzip.status, 1, gzip.stderr);
    assert.equal(gzip.stdout, '');
    assert.equal(
      gzip.stderr,
      `vault publish: cannot read ${gz}: it is gzip-compressed: decompress it first (gunzip -c ${gz} | vault publish -); nothing was published\n`,
    );
    assert.deepEqual(gzip.messages, []);

    const piped = await publish(['-'], gzipSync(ndjson));
    assert.equal(piped.status, 1, piped.stderr);
    assert.match(
      piped.stderr,
      /^vault publish: cannot read stdin: it is gzip-compressed: decompress it first \(… \| gunzip -c \| vault publish -\)/,
    );
    assert.deepEqual(piped.messages, []);

    const zstd = await publish([file('sim.ndjson.zst', Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from(ndjson)]))]);
    assert.equal(zstd.status, 1, zstd.stderr);
    assert.match(zstd.stderr, /: it is zstd-compressed: decompress it first \(zstd -dc /);
    assert.deepEqual(zstd.messages, []);

    const zip = await publish([file('sim.zip', Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.from(ndjson)]))]);
    assert.equal(zip.status, 1, zip.stderr);
    assert.match(zip.stderr, /: it is a zip archive: extract it first \(unzip -p /);

    const nul = await publish([file('nul.ndjson', `${ndjson.slice(0, 1000)}\0${ndjson.slice(1000)}`)]);
    assert.equal(nul.status, 1, nul.stderr);
    assert.match(nul.stderr, /: it holds a NUL byte \(byte 1001, line \d+\): it is binary/);
    assert.deepEqual(nul.messages, []);

    const latin1 = await publish([file('latin1.ndjson', Buffer.from(`${ndjson.slice(0, 5000)}{"id":"café"}\n`, 'latin1'))]);
    assert.equal(latin1.status, 1, latin1.stderr);
    assert.match(latin1.stderr, /: it is not UTF-8 text \(byte \d+, line \d+: 0xe9 starts no UTF-8 character\); save it as UTF-8/);
    assert.deepEqual(latin1.messages, []);
  });

  test('invalid UTF-8 past the first 64 KiB: that line alone is rejected naming UTF-8, and published as its bytes; the lines around it accepted', async () => {
    const n = 400;
    const before = Array.from({ length: n }, (_, i) => `${JSON.stringify(event(`late-utf8-${i}`))}\n`).join('');
    assert.ok(before.length > 64 * 1024);
    const bad = Buffer.concat([Buffer.from('{"specversion":"1.0","id":"late-caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]);
    const body = Buffer.concat([Buffer.from(before), bad, Buffer.from(`${JSON.stringify(event('late-utf8-after'))}\n`)]);
    const r = await publish([file('late-latin1.ndjson', body)]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`published ${n + 2} lines .*: ${n + 1} accepted, 0 duplicate, 1 rejected`), r.stderr);
    assert.match(r.stderr, new RegExp(`^line ${n + 1}( \\(id [^)]*\\))?: not JSON: .*utf-8`, 'im'));
    assert.equal(r.messages.length, n + 2);
  });

  test('an array element whose brackets do not match is rejected alone, naming it and the line; the elements after it are read and accepted', async () => {
    const [e0, e1, e3, e4, e5] = ['mm-0', 'mm-1', 'mm-3', 'mm-4', 'mm-5'].map((id) => JSON.stringify(event(id)));
    const text = `[\n${e0},\n${e1},\n{"id":"mm-2","data":[1},\n${e3},\n${e4},\n${e5}\n]\n`;
    const r = await publish([file('mismatched.json', text)]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^published 6 array elements .*: 5 accepted, 0 duplicate, 1 rejected/m, r.stderr);
    assert.match(r.stderr, /^element \[2\]: not JSON: } on line 4 closes \[ \(opened on line 4\) in element \[2\]$/m);
    assert.doesNotMatch(r.stderr, /not a whole JSON array/);
    // The broken element is never published: where it truly ends is a guess.
    assert.deepEqual(r.messages.map((m) => (JSON.parse(m) as { id: string }).id).sort(), ['mm-0', 'mm-1', 'mm-3', 'mm-4', 'mm-5']);
  });

  test('a 50 MB array element is refused by its size as it is read, never held: the RSS grows by far less than it', {
    timeout: 120_000,
  }, async () => {
    const preload = file(
      'max-rss.mjs',
      "import { writeSync } from 'node:fs';\nprocess.on('exit', () => writeSync(2, 'max_rss_kb=' + process.resourceUsage().maxRSS + '\\n'));\n",
    );
    /** The run's peak resident set, in MB, measured in the child. */
    async function peakMb(path: string) {
      const topic = uniqueName('safety');
      const child = spawn(process.execPath, ['bin/vault.js', 'publish', path], {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: db.url,
          KAFKA_BROKERS: undefined,
          BILLING_EVENTS_TOPIC: topic,
          NODE_OPTIONS: `--import=${preload}`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      const kb = Number(/max_rss_kb=(\d+)/.exec(stderr)?.[1]);
      assert.ok(kb > 0, stderr);
      return { status, stdout, stderr, mb: kb / 1024, messages: await messages(topic) };
    }
    // The baseline reads the same 50 MB (whitespace after a small array): reading a file leaves
    // garbage chunks of its own until V8 collects them, held or not.
    const mb = Buffer.alloc(1024 * 1024, 'x');
    const spaces = Buffer.alloc(1024 * 1024, ' ');
    const write = (path: string, head: string, pad: Buffer, tail: string) => {
      const fd = openSync(path, 'w');
      writeSync(fd, head);
      for (let i = 0; i < 50; i++) writeSync(fd, pad);
      writeSync(fd, tail);
      closeSync(fd);
      return path;
    };
    const baseline = await peakMb(
      write(
        join(dir, 'spaces.json'),
        `[${JSON.stringify(event('small-0'))},\n{"id":"small-1","pad":"x"},\n${JSON.stringify(event('small-2'))}]\n`,
        spaces,
        '',
      ),
    );
    assert.equal(baseline.status, 1, baseline.stderr);

    const [a, b] = [JSON.stringify(event('big-0')), JSON.stringify(event('big-2'))];
    const bigPath = write(join(dir, 'big.json'), `[${a},\n{"id":"big-1","pad":"`, mb, `"},\n${b}]\n`);
    const big = await peakMb(bigPath);
    assert.equal(big.status, 1, big.stderr);
    assert.match(big.stdout, /^published 3 array elements .*: 2 accepted, 0 duplicate, 1 rejected/m, big.stderr);
    const size = Buffer.byteLength('{"id":"big-1","pad":"') + 50 * 1024 * 1024 + Buffer.byteLength('"}');
    assert.match(
      big.stderr,
      new RegExp(`^element \\[1\\]: the event is ${size} bytes, more than the 65536 \\(64 KiB\\) one event may be$`, 'm'),
    );
    assert.equal(big.messages.length, 2);
    // Held whole, it grew by 280 MB (copies of it); refused as it is read, by the noise of the collector.
    const growth = big.mb - baseline.mb;
    assert.ok(
      growth < 25,
      `the peak RSS grew by ${growth.toFixed(1)} MB for a 50 MB element (${baseline.mb.toFixed(1)} → ${big.mb.toFixed(1)} MB)`,
    );
  });
});

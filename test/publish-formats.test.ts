// `vault publish` reads NDJSON, a whole JSON array (pretty-printed or not) and
// either after a UTF-8 byte order mark, from a file or stdin; a file it cannot
// read is one line on stderr. On the embedded bus of a fresh database, each
// test with a topic of its own.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, uniqueName, vault, type TestDatabase } from '@vault/testkit';

const BOM = '\uFEFF';

/** A few of October's kind of events (docs/contracts' shape), with ids of their own. */
function events(prefix: string) {
  return [
    {
      specversion: '1.0',
      id: `${prefix}-1`,
      source: 'app-registry',
      type: 'app.owner_changed',
      time: '2026-10-01T00:00:00Z',
      subject: `${prefix}-app`,
      sequence: 1,
      data: { app_id: `${prefix}-app`, account_id: `${prefix}-acct` },
    },
    {
      specversion: '1.0',
      id: `${prefix}-2`,
      source: 'dyno-manager',
      type: 'dyno.started',
      time: '2026-10-02T00:00:00Z',
      subject: `${prefix}-d1`,
      sequence: 1,
      data: { app_id: `${prefix}-app`, name: 'web.1', size: 'standard-1x' },
    },
    {
      specversion: '1.0',
      id: `${prefix}-3`,
      source: 'dyno-manager',
      type: 'dyno.stopped',
      time: '2026-10-03T00:00:00Z',
      subject: `${prefix}-d1`,
      sequence: 2,
      data: { app_id: `${prefix}-app` },
    },
  ];
}

const ndjson = (items: unknown[]) => items.map((e) => `${JSON.stringify(e)}\n`).join('');

describe('`vault publish` input formats', () => {
  let db: TestDatabase;
  let dir: string;
  before(async () => {
    db = await freshDatabase('publish_formats');
    dir = mkdtempSync(join(tmpdir(), 'vault-publish-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  /** `vault publish args…` to a topic of its own on the embedded bus; the run and that topic's messages. */
  async function publish(args: string[], input = '') {
    const topic = uniqueName('formats');
    const r = await vault(['publish', ...args], { DATABASE_URL: db.url, KAFKA_BROKERS: undefined, BILLING_EVENTS_TOPIC: topic }, input);
    const rows = await db.pool
      .query<{ value: string }>(
        `select convert_from(value, 'UTF8') as value from bus.messages where topic = $1 order by published_at, partition, "offset"`,
        [topic],
      )
      .catch(() => ({ rows: [] }));
    return { ...r, messages: rows.rows.map((m) => m.value) };
  }

  const file = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  test('NDJSON: blank lines counted, a rejected line named by its line number', async () => {
    const [a, b] = events('nd');
    const r = await publish([file('events.ndjson', `${JSON.stringify(a)}\n\n{"not": "an event"}\n${JSON.stringify(b)}`)]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /published 3 lines to \S+ \(embedded bus\): 2 accepted, 0 duplicate, 1 rejected/, r.stderr);
    assert.match(r.stderr, /^line 3: /m);
    assert.equal(r.messages.length, 3);
  });

  test('a pretty-printed JSON array file: every element published as sent, on one line each, exit 0', async () => {
    const items = events('pretty');
    const r = await publish([file('pretty.json', JSON.stringify(items, null, 2))]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /published 3 array elements to \S+ \(embedded bus\): 3 accepted, 0 duplicate, 0 rejected/, r.stderr);
    assert.ok(
      r.messages.every((m) => !/[\r\n]/.test(m)),
      'one line each',
    );
    // The file's own text of each element, its line breaks made spaces: only whitespace differs from compact JSON.
    assert.ok(
      r.messages.some((m) => m.includes('{     "specversion": "1.0",')),
      r.messages.join('\n'),
    );
    assert.deepEqual(r.messages.map((m) => m.replace(/\s+/g, '')).sort(), items.map((e) => JSON.stringify(e)).sort());
  });

  test('a refused array element is kept as sent (1e400 stays 1e400), not as JSON.parse would write it again', async () => {
    const [a] = events('as-sent');
    const r = await publish([], `[${JSON.stringify(a)},\n{"id":"as-sent-bad","sequence":1e400}]`);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /: 1 accepted, 0 duplicate, 1 rejected/, r.stderr);
    assert.ok(r.messages.includes('{"id":"as-sent-bad","sequence":1e400}'), r.messages.join('\n'));
  });

  test('a raw line break inside a string of an element (invalid JSON, as POST /v1/events says) is rejected with its index, never read as a space', async () => {
    const [a, b] = events('raw-break');
    // "id" and "subject" each hold a raw LF (JSON strings hold none): made spaces, they were "e- 1" and "d- 1", accepted.
    const bad = JSON.stringify({ ...b, id: 'raw-break-e- 1', subject: 'raw-break-d- 1' }).replace(/- 1/g, '-\n1');
    const r = await publish([], `[${JSON.stringify(a)},\n${bad}\n]`);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /published 2 array elements .*: 1 accepted, 0 duplicate, 1 rejected/, r.stderr);
    assert.match(r.stderr, /^element \[1\]: not JSON: Bad control character in string literal/m);
    assert.ok(
      r.messages.every((m) => !m.includes('\n')),
      'one line each',
    );
    assert.ok(!r.messages.some((m) => m.includes('e- 1')), r.messages.join('\n'));
  });

  test('a one-line JSON array on stdin: a rejected element named by its index', async () => {
    const [a, b] = events('array-stdin');
    const r = await publish([], JSON.stringify([a, { id: 'array-stdin-bad', subject: 'x' }, b]));
    assert.equal(r.status, 1);
    assert.match(r.stdout, /published 3 array elements .*: 2 accepted, 0 duplicate, 1 rejected/, r.stderr);
    assert.match(r.stderr, /^element \[1\] \(id array-stdin-bad\): /m);
    assert.doesNotMatch(r.stderr, /^line /m);
  });

  test('a file with a UTF-8 byte order mark, NDJSON or a JSON array, from a file or stdin', async () => {
    const nd = await publish([file('bom.ndjson', BOM + ndjson(events('bom-nd')))]);
    assert.equal(nd.status, 0, nd.stderr);
    assert.match(nd.stdout, /published 3 lines .*: 3 accepted, 0 duplicate, 0 rejected/, nd.stderr);

    const array = await publish([file('bom.json', `${BOM}\n  ${JSON.stringify(events('bom-array'), null, 4)}\n`)]);
    assert.equal(array.status, 0, array.stderr);
    assert.match(array.stdout, /published 3 array elements .*: 3 accepted/, array.stderr);

    const stdin = await publish(['-'], BOM + ndjson(events('bom-stdin')));
    assert.equal(stdin.status, 0, stdin.stderr);
    assert.match(stdin.stdout, /published 3 lines .*: 3 accepted/, stdin.stderr);
  });

  test('a JSON array element that is not UTF-8 past the first 64 KiB is published as its bytes and rejected alone (never read with U+FFFD), the rest accepted', async () => {
    // Not UTF-8 within the first 64 KiB, the whole input is refused (publish-input-safety.test.ts).
    const padding = Array.from({ length: 400 }, (_, i) => events(`latin1-pad-${i}`)[0]!);
    const [a, b] = events('latin1');
    const bad = Buffer.concat([
      Buffer.from('{"specversion":"1.0","id":"latin1-caf'),
      Buffer.from([0xe9]),
      Buffer.from('",\n"subject":"x"}'),
    ]);
    const head = Buffer.from(`[${[...padding, a].map((e) => JSON.stringify(e)).join(',\n')},\n`);
    assert.ok(head.length > 64 * 1024);
    const body = Buffer.concat([head, bad, Buffer.from(`,\n${JSON.stringify(b)}]`)]);
    const topic = uniqueName('formats');
    const r = await vault(['publish', file('latin1.json', body)], {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: undefined,
      BILLING_EVENTS_TOPIC: topic,
    });
    const n = padding.length;
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`published ${n + 3} array elements .*: ${n + 2} accepted, 0 duplicate, 1 rejected`), r.stderr);
    assert.match(r.stderr, new RegExp(`^element \\[${n + 1}\\]`, 'm'));
    const raw = await db.pool.query<{ value: Buffer }>('select value from bus.messages where topic = $1', [topic]);
    const values = raw.rows.map((m) => m.value);
    assert.equal(values.length, n + 3);
    const kept = values.find((v) => v.includes(0xe9));
    assert.ok(kept, 'the element went on the bus with its own byte');
    assert.ok(!kept.includes(Buffer.from('\uFFFD')), 'no replacement character');
    assert.ok(!kept.includes(0x0a), 'one line');
  });

  test('a broken JSON array: the elements before the break published, then one line saying where, exit 1', async () => {
    const items = events('broken');
    const text = JSON.stringify(items, null, 2).replace(/\]\s*$/, ''); // no closing ]
    const r = await publish([file('broken.json', text)]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /published 3 array elements/, r.stderr);
    assert.match(r.stderr, /^vault publish: .*broken\.json is not a whole JSON array: the input ended before the array's closing \]/m);
    assert.match(r.stderr, /the 3 elements before that went on the bus$/m);
    assert.equal(r.messages.length, 3);

    const trailing = await publish([], `[${JSON.stringify(events('comma')[0])},\n]`);
    assert.equal(trailing.status, 1);
    assert.match(trailing.stderr, /not a whole JSON array: line 2: expected an element after ','/);
    assert.match(trailing.stdout, /published 1 array elements/, trailing.stderr);
  });

  test('a missing file: one line naming it, no stack, nothing published, exit 1', async () => {
    const missing = join(dir, 'missing.ndjson');
    const r = await publish([missing]);
    assert.equal(r.status, 1, 'a failure, not a usage error (exit 2)');
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `vault publish: cannot read ${missing}: no such file\n`);
  });

  test('a directory: one line saying so, no stack, exit 1', async () => {
    const r = await publish([dir]);
    assert.equal(r.status, 1, 'a failure, not a usage error (exit 2)');
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `vault publish: cannot read ${dir}: it is a directory, not a file of events\n`);
  });

  test('UTF-16: one line saying to save it as UTF-8', async () => {
    const r = await publish([file('utf16.ndjson', Buffer.from(`\uFEFF${ndjson(events('utf16'))}`, 'utf16le'))]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^vault publish: cannot read \S+utf16\.ndjson: it is UTF-16 text .*save it as UTF-8\n$/);
  });
});

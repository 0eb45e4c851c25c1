// `vault publish` from a live stdin (a pipe held open): what arrives is on the bus within about
// a second (a chunk is sent once the input pauses, not only at 5,000 lines or its end);
// SIGINT or SIGTERM stops the reading, publishes what was read whole, prints the summary and
// exits 130 or 143; a failure part-way says what was on the bus and that running it again is
// safe. Real child processes on the embedded bus of a fresh database.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freshDatabase, uniqueName, type TestDatabase } from '@vault/testkit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const line = (id: string) =>
  `${JSON.stringify({
    specversion: '1.0',
    id,
    source: 'app-registry',
    type: 'app.owner_changed',
    time: '2026-10-01T00:00:00Z',
    subject: `${id}-app`,
    sequence: 1,
    data: { app_id: `${id}-app`, account_id: `${id}-acct` },
  })}\n`;
const lines = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => line(`${prefix}-${from + i}`)).join('');

interface Run {
  child: ChildProcessWithoutNullStreams;
  topic: string;
  out: { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

describe('`vault publish` from a live stdin', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('publish_live');
  });
  after(() => db.drop());

  function start(): Run {
    const topic = uniqueName('live');
    const child = spawn(process.execPath, ['bin/vault.js', 'publish'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.url, KAFKA_BROKERS: undefined, BILLING_EVENTS_TOPIC: topic },
    });
    const out = { stdout: '', stderr: '' };
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
    child.stdin.on('error', () => {});
    const exited = new Promise<number | null>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? -1 : null))));
    return { child, topic, out, exited };
  }

  async function onBus(topic: string): Promise<number> {
    const r = await db.pool
      .query<{ n: number }>('select count(*)::int as n from bus.messages where topic = $1', [topic])
      .catch(() => ({ rows: [{ n: 0 }] }));
    return r.rows[0]!.n;
  }

  /** Milliseconds until `n` messages are on the run's topic; fails after `withinMs`. */
  async function until(run: Run, n: number, withinMs: number): Promise<number> {
    const started = performance.now();
    while (performance.now() - started < withinMs) {
      if ((await onBus(run.topic)) >= n) return performance.now() - started;
      await sleep(50);
    }
    assert.fail(`${n} messages not on the bus within ${withinMs} ms (${await onBus(run.topic)} are); stderr: ${run.out.stderr}`);
  }

  test('15 lines, the pipe left open: on the bus while it stays open, more within ~1 s; SIGINT then publishes what was read whole, summary, exit 130', {
    timeout: 120_000,
  }, async () => {
    const run = start();
    try {
      run.child.stdin.write(lines('live', 0, 15));
      // The first wait includes the command's start (loading, the database); the input stays open.
      await until(run, 15, 60_000);
      run.child.stdin.write(lines('live', 15, 20));
      const ms = await until(run, 20, 2_000);
      assert.ok(ms < 2_000, `${ms} ms`);
      // A line begun and not ended when the signal comes is not published.
      const cut = '{"specversion":"1.0","id":"live-cut';
      run.child.stdin.write(lines('live', 20, 23) + cut);
      await until(run, 23, 2_000);
      run.child.kill('SIGINT');
      const status = await Promise.race([run.exited, sleep(15_000).then(() => 'hung')]);
      assert.equal(status, 130, run.out.stderr);
      assert.match(
        run.out.stdout,
        /^published 23 lines to \S+ \(embedded bus\): 23 accepted, 0 duplicate, 0 rejected in /m,
        run.out.stderr,
      );
      assert.match(
        run.out.stderr,
        new RegExp(
          '^vault publish: stopped by SIGINT before the end of stdin: the 23 lines read whole went on the bus; ' +
            `the line it was reading when stopped \\(${cut.length} bytes so far\\) was not published; running it again is safe`,
          'm',
        ),
      );
      assert.equal(await onBus(run.topic), 23);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  test('SIGTERM before the input pauses: the lines read go on the bus, summary, exit 143', { timeout: 120_000 }, async () => {
    const run = start();
    try {
      run.child.stdin.write(lines('term', 0, 10));
      await until(run, 10, 60_000);
      run.child.stdin.write(lines('term', 10, 12));
      run.child.kill('SIGTERM');
      const status = await Promise.race([run.exited, sleep(15_000).then(() => 'hung')]);
      assert.equal(status, 143, run.out.stderr);
      const published = Number(/^published (\d+) lines .*: \1 accepted/m.exec(run.out.stdout)?.[1]);
      assert.ok(published >= 10, run.out.stdout + run.out.stderr);
      assert.equal(await onBus(run.topic), published);
      assert.match(run.out.stderr, /^vault publish: stopped by SIGTERM before the end of stdin: /m);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  test('a failure part-way (the bus gone): the counts on the bus so far, and that running it again is safe; exit 1', {
    timeout: 120_000,
  }, async () => {
    const run = start();
    try {
      run.child.stdin.write(lines('fail', 0, 7));
      await until(run, 7, 60_000);
      // The embedded bus's log gone from under it: the next chunk's publish fails.
      await db.pool.query('alter table bus.messages rename to messages_away');
      run.child.stdin.end(lines('fail', 7, 9));
      const status = await Promise.race([run.exited, sleep(30_000).then(() => 'hung')]);
      assert.equal(status, 1, run.out.stderr);
      assert.match(
        run.out.stderr,
        /^vault publish: stopped part-way: 7 lines \(7 accepted, 0 duplicate, 0 rejected\) were on the bus before this failure; running it again is safe: metering recognises what is already on the bus \(the same source and id\) as duplicates$/m,
      );
      assert.match(run.out.stderr, /^vault: publish failed: .*messages/m);
    } finally {
      run.child.kill('SIGKILL');
      await db.pool.query('alter table if exists bus.messages_away rename to messages');
    }
  });
});

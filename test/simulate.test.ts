import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { GapList, MeteringStats, parseEvent } from '@vault/contracts';
import { memoryLogger } from '@vault/runtime';
import { eventually, freePort, freshDatabase, startService, vault, type RunningService, type TestDatabase } from '@vault/testkit';
import { progressReporter } from '../scripts/cli/simulate.ts';

const ADMIN = 'simulate-test-admin-token-0123456789abcdef';
const NOW = '2026-11-23T12:00:00Z';
const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('`vault simulate --out -`: a simulated platform as NDJSON', () => {
  const simulate = (...args: string[]) => vault(['simulate', '--out', '-', '--apps', '10', '--weeks', '2', '--now', NOW, ...args]);

  test('every line is a valid event, the same for the same seed and different for another; the late ones come last', async () => {
    const [a, b, c, noLate] = await Promise.all([
      simulate('--seed', '7'),
      simulate('--seed', '7'),
      simulate('--seed', '8'),
      simulate('--seed', '7', '--no-late'),
    ]);
    for (const r of [a, b, c, noLate]) assert.equal(r.status, 0, r.stderr);
    assert.equal(a.stdout, b.stdout);
    assert.notEqual(a.stdout, c.stdout);

    const lines = a.stdout.trimEnd().split('\n');
    assert.ok(lines.length > 100, `${lines.length} lines`);
    for (const [i, line] of lines.entries()) {
      const parsed = parseEvent(line, { now: Date.parse(NOW) });
      assert.ok(parsed.ok, `line ${i + 1}: ${parsed.ok ? '' : JSON.stringify(parsed.reasons)}`);
    }
    // --no-late leaves out exactly the last two lines.
    assert.equal(
      noLate.stdout,
      lines
        .slice(0, -2)
        .map((l) => `${l}\n`)
        .join(''),
    );
    // With the events on stdout, what was done is said on stderr.
    assert.match(
      a.stderr,
      new RegExp(
        `^simulated 10 apps of 8 accounts \\(demo account acct-demo\\), seed 7, from 2026-11-09T00:00:00Z to ${NOW}: wrote ${lines.length} events \\(\\d+ re-sent, the 2 late ones last\\) to stdout\\n$`,
      ),
    );
  });

  test('bad options are usage errors (exit 2) that name the option', async () => {
    const apps = await vault(['simulate', '--out', '-', '--apps', '1']);
    assert.equal(apps.status, 2);
    assert.match(apps.stderr, /--apps must be a whole number, 2 or more/);
    const now = await vault(['simulate', '--out', '-', '--now', '2026-11-23']);
    assert.equal(now.status, 2);
    assert.match(now.stderr, /--now must be an RFC 3339 timestamp with an offset/);
    const unknown = await vault(['simulate', '--frobnicate']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /usage: vault/);
    // Built in memory: 36 apps over 3000 weeks took 2.8 GB and ended in "Invalid string length".
    const huge = await vault(['simulate', '--out', '-', '--weeks', '3000']);
    assert.equal(huge.status, 2);
    assert.match(huge.stderr, /--apps × --weeks must be at most 10000 \(here 36 × 3000\)/);
    assert.equal(huge.stdout, '');
    // Published, a future window's events would all be rejected, and only after the whole run.
    const future = await vault(['simulate', '--now', '2999-01-01T00:00:00Z'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    assert.equal(future.status, 2);
    assert.match(future.stderr, /--now is in the future: its events would be rejected as time_in_future; write them with --out instead/);
  });

  test('`vault simulate --out - | head`: the reader leaving is one line on stderr and exit 1, never a stack', async () => {
    const child = spawn(process.execPath, ['bin/vault.js', 'simulate', '--out', '-', '--weeks', '8', '--now', NOW], { cwd: ROOT });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // Read the first bytes, then go away as `head -c` does.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(status, 1, stderr);
    assert.equal(stderr, 'vault simulate: stdout was closed before every event was written\n');
  });

  test('--out a file it cannot write: one line naming --out and why, exit 1, never the errno text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vault-simulate-out-'));
    try {
      const run = (out: string) => vault(['simulate', '--out', out, '--apps', '2', '--weeks', '1', '--now', NOW]);
      const [missing, directory] = await Promise.all([run(join(dir, 'nowhere', 'x.ndjson')), run(dir)]);
      assert.equal(missing.status, 1, missing.stderr);
      assert.equal(missing.stderr, `vault simulate: --out ${join(dir, 'nowhere', 'x.ndjson')}: cannot write it: no such directory\n`);
      assert.equal(directory.status, 1, directory.stderr);
      assert.equal(directory.stderr, `vault simulate: --out ${dir}: cannot write it: it is a directory\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the progress of `vault simulate`', () => {
  test('on a terminal: one line updated in place, `label [###…] N% done/total events`, ended by a newline', () => {
    let written = '';
    const tty = { isTTY: true, write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
    const log = memoryLogger();
    const report = progressReporter('simulate', 3520, log, tty);
    report(1840, 3520);
    assert.equal(written, '\rsimulate [################..............] 52% 1840/3520 events');
    report(3520, 3520);
    assert.ok(written.endsWith('\rsimulate [##############################] 100% 3520/3520 events\n'));
    assert.deepEqual(log.lines, []);
  });

  test('elsewhere: a logfmt line each time another tenth is done', () => {
    const pipe = { isTTY: false, write: () => assert.fail('nothing is written to a pipe') } as unknown as NodeJS.WriteStream;
    const log = memoryLogger();
    const report = progressReporter('demo events', 1000, log, pipe);
    for (const done of [50, 99, 100, 150, 420, 1000]) report(done, 1000);
    assert.deepEqual(
      log.lines.map((l) => /percent=(\d+)/.exec(l)![1]),
      ['10', '40', '100'],
    );
    assert.match(log.lines[0]!, /event=simulate\.progress label="demo events" published=100 total=1000 percent=10/);
  });
});

describe('`vault simulate` publishes on the embedded bus, and a running metering applies it all', () => {
  let db: TestDatabase;
  let metering: RunningService | undefined;
  // Leave KAFKA_BROKERS empty: the embedded bus in PostgreSQL.
  let env: Record<string, string>;
  before(async () => {
    db = await freshDatabase('simulate');
    env = { DATABASE_URL: db.url, KAFKA_BROKERS: '', ADMIN_TOKEN: ADMIN, METERING_PORT: String(await freePort()) };
  });
  after(async () => {
    await metering?.kill('SIGTERM');
    await db.drop();
  });

  async function get<T>(path: string, schema: { parse(v: unknown): T }): Promise<T> {
    const res = await fetch(new URL(path, metering!.url), { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(res.status, 200, path);
    return schema.parse(await res.json());
  }

  test('two weeks of 10 apps: exit 0 with counts and progress; metering applies every event with no rejection and no gap; the same run again is all duplicates', {
    timeout: 180_000,
  }, async () => {
    const run = await vault(['simulate', '--weeks', '2', '--apps', '10'], env);
    assert.equal(run.status, 0, run.stderr + run.stdout);
    const done =
      /^simulated 10 apps of 8 accounts \(demo account acct-demo\), seed 1, from \S+ to \S+: published (\d+) events \(the 2 late ones last\) to platform\.billing-events\.v1 \(embedded bus\): (\d+) accepted, (\d+) duplicate, 0 rejected in [\d.]+s$/m.exec(
        run.stdout,
      );
    assert.ok(done, run.stdout);
    const [published, accepted, duplicates] = done.slice(1).map(Number) as [number, number, number];
    assert.equal(accepted + duplicates, published);
    assert.ok(duplicates >= 1, 're-sent events are counted as duplicates');
    // Not a terminal: a logfmt progress line every 10%, ending at 100%, on stderr (stdout holds the summary alone).
    const progress = run.stderr.split('\n').filter((l) => l.includes('event=simulate.progress'));
    assert.equal(progress.length, 10, run.stderr);
    assert.doesNotMatch(run.stdout, /event=simulate\.progress/);
    assert.match(progress.at(-1)!, new RegExp(`label=simulate published=${published} total=${published} percent=100`));

    metering = await startService('metering', env);
    let last: MeteringStats | undefined;
    await eventually(
      () => `metering to apply every simulated event (${accepted} accepted, ${duplicates} duplicate; last stats ${JSON.stringify(last)})`,
      async () => {
        const s = (last = await get('/v1/stats', MeteringStats));
        return s.events_applied === accepted && s.consumer_lag === 0;
      },
      120_000,
    );
    const stats = await get('/v1/stats', MeteringStats);
    assert.deepEqual(stats, { ...stats, events_applied: accepted, events_duplicate: duplicates, events_rejected: 0 });
    assert.deepEqual(await get('/v1/gaps', GapList), { gaps: [], next_after: null });

    // The same run again (the same clock): every event is a duplicate now, none is rejected.
    const to = / to (\S+): published/.exec(run.stdout)![1]!;
    const again = await vault(['simulate', '--weeks', '2', '--apps', '10', '--now', to], env);
    assert.equal(again.status, 0, again.stderr + again.stdout);
    assert.match(again.stdout, new RegExp(`: 0 accepted, ${published} duplicate, 0 rejected in`));
    const [accepted2, duplicates2] = [0, published];
    await eventually(
      () => `metering to take the second run (last stats ${JSON.stringify(last)})`,
      async () => {
        const s = (last = await get('/v1/stats', MeteringStats));
        return s.events_applied === accepted + accepted2 && s.events_duplicate === duplicates + duplicates2 && s.consumer_lag === 0;
      },
      60_000,
    );
    assert.equal((await get('/v1/stats', MeteringStats)).events_rejected, 0);
    assert.deepEqual(await get('/v1/gaps', GapList), { gaps: [], next_after: null });
  });
});

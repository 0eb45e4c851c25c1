// `vault archive` through the real command: it migrates metering (and
// invoicing), moves the events before the cut to gzip NDJSON files, prints a
// line per file and a total; then it moves the usage horizon as far as
// invoicing holds the months final, saying what stops it, and archives the
// settled months before it. A bad cut or EVENT_RETENTION is refused naming it,
// nothing done.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, vault, type TestDatabase } from '@vault/testkit';

describe('vault archive', () => {
  let db: TestDatabase;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    db = await freshDatabase('cli_archive');
    dir = await mkdtemp(join(tmpdir(), 'vault-cli-archive-'));
    env = { DATABASE_URL: db.url };
  });
  after(async () => {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  test('on an empty database, events only: migrates metering, archives nothing, says so, leaves the usage horizon alone, exit 0', async () => {
    const r = await vault(['archive', '--dir', dir, '--events-only'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^archiving events before \S+ to /m);
    assert.match(r.stdout, /^archived 0 events of 0 subjects in 0 file\(s\); settled 0 usage intervals$/m);
    assert.doesNotMatch(r.stdout, /horizon/);
    assert.deepEqual(await readdir(dir), []);
    const { rows } = await db.pool.query('select count(*)::int as n from metering.usage_horizon');
    assert.equal(rows[0].n, 0);
  });

  test('a stopped dyno of last year leaves for a file, its usage for the settled month; the command names the file and the counts', async () => {
    // Written where metering keeps events (the consumer's path is tested in services/metering/test/archive.test.ts).
    await db.pool.query(
      `insert into metering.events (source, id, type, subject, sequence, time, data, received_at)
       values ('dyno-manager', 'e1', 'dyno.started', 'dyno-x', 1, '2025-03-01T00:00:00Z', '{"app_id":"app-x","name":"web.1","size":"basic"}', '2025-03-01T00:00:01Z'),
              ('dyno-manager', 'e2', 'dyno.stopped', 'dyno-x', 2, '2025-03-02T00:00:00Z', '{"app_id":"app-x"}', '2025-03-02T00:00:01Z')`,
    );
    await db.pool.query(
      `insert into metering.event_keys (source, id, content_hash)
       values ('dyno-manager', 'e1', decode(repeat('a', 64), 'hex')), ('dyno-manager', 'e2', decode(repeat('b', 64), 'hex'))`,
    );
    await db.pool.query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
       values ('dyno-x', 'dyno', 'app-x', 'web.1', 'dyno:basic', '[2025-03-01T00:00:00Z,2025-03-02T00:00:00Z)', '2025-03-02T00:00:01Z')`,
    );
    const r = await vault(['archive', '--before', '2025-06-01T00:00:00Z', '--dir', dir, '--events-only'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /^archived 2 events of 1 subjects \(2025-03\) to metering-events-2025-03-0001\.ndjson\.gz; settled 1 usage intervals$/m,
    );
    assert.match(r.stdout, /^archived 2 events of 1 subjects in 1 file\(s\); settled 1 usage intervals$/m);
    const settled = await db.pool.query(`select subject, month::text from metering.settled_usage_2025_03`);
    assert.deepEqual(settled.rows, [{ subject: 'dyno-x', month: '2025-03-01' }]);
    assert.deepEqual(await readdir(dir), ['metering-events-2025-03-0001.ndjson.gz']);
    const { rows } = await db.pool.query('select count(*)::int as n from metering.events');
    assert.equal(rows[0].n, 0);
  });

  test('once March is invoiced, the usage horizon moves to the cut and March’s settled usage leaves for a file; a month not invoiced stops it, named', async () => {
    await db.pool.query(
      `insert into metering.app_ownership (app_id, account_id, during, learned_at)
       values ('app-x', 'acct-x', '[2025-02-01T00:00:00Z,)', '2025-02-01T00:00:00Z')`,
    );
    const finalized = await vault(['finalize', '--period', '2025-03'], env);
    assert.equal(finalized.status, 0, finalized.stderr);
    const r = await vault(['archive', '--before', '2025-06-01T00:00:00Z', '--dir', dir], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^archiving events before 2025-06-01T00:00:00.000Z and usage before 2025-06 once final to /m);
    assert.match(r.stdout, /^usage before 2025-06 is final: the usage horizon moved to 2025-06$/m);
    assert.match(
      r.stdout,
      /^archived 1 settled usage intervals \(2025-03\) to metering-usage-2025-03-0001\.ndjson\.gz; dropped its table$/m,
    );
    assert.match(
      r.stdout,
      /^usage horizon 2025-06; archived 1 settled usage intervals of 1 month\(s\); dropped the settled usage tables of 2025-03; deleted invoicing's aggregates before 2025-06 \(1 days, 1 months\)$/m,
    );
    assert.match(r.stdout, /^deleted invoicing's usage aggregates before 2025-06 \(final\): 1 days and 1 months of rows$/m);
    const aggregates = await db.pool.query(`select count(*)::int as n from invoicing.usage_days where day < '2025-06-01T00:00:00Z'`);
    assert.equal(aggregates.rows[0].n, 0);
    assert.deepEqual((await readdir(dir)).sort(), ['metering-events-2025-03-0001.ndjson.gz', 'metering-usage-2025-03-0001.ndjson.gz']);
    const { rows } = await db.pool.query(`select to_regclass('metering.settled_usage_2025_03') as t`);
    assert.equal(rows[0].t, null);

    // July's usage has no invoice: the horizon stops there, saying so.
    await db.pool.query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
       values ('dyno-y', 'dyno', 'app-x', 'web.2', 'dyno:basic', '[2025-07-01T00:00:00Z,2025-07-02T00:00:00Z)', '2025-07-02T00:00:00Z')`,
    );
    const stopped = await vault(['archive', '--before', '2025-09-01T00:00:00Z', '--dir', dir], env);
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.match(stopped.stdout, /^folded the usage changes of 1 app\(s\) into invoicing's aggregates$/m);
    assert.match(
      stopped.stdout,
      /^usage before 2025-07 is final: the usage horizon moved from 2025-06 to 2025-07; 2025-07 is not final: account acct-x has usage in it and no invoice of it \(not finalized yet, or held\)$/m,
    );
  });

  test('a cut in the future is refused naming --before (exit 2); nothing is archived and the horizon stays', async () => {
    const horizon = async () => (await db.pool.query('select period from metering.billable_horizon')).rows;
    const was = await horizon();
    const files = await readdir(dir);
    const future = new Date(Date.now() + 86_400_000).toISOString();
    const r = await vault(['archive', '--before', future, '--dir', dir], env);
    assert.equal(r.status, 2, r.stdout);
    assert.match(r.stderr, /^vault: archive: --before: \S+ is in the future \(now is \S+\); give an instant at or before now$/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(await horizon(), was);
    assert.deepEqual(await readdir(dir), files);
  });

  test('the usage horizon goes no further than the last month ended INVOICE_GRACE_HOURS ago, whatever the cut', async () => {
    const fresh = await freshDatabase('cli_archive_grace');
    try {
      // 40 days: the month of the cut (now) is not over, nor is the one before it over by 40 days.
      const graceHours = 960;
      const capAt = () => new Date(Date.now() - graceHours * 3_600_000).toISOString().slice(0, 7);
      const cap = capAt();
      const r = await vault(['archive', '--before', new Date().toISOString(), '--dir', dir], {
        DATABASE_URL: fresh.url,
        INVOICE_GRACE_HOURS: String(graceHours),
      });
      assert.equal(r.status, 0, r.stderr);
      // Run near a month's turn, the cap may have moved while the command ran.
      const expected = new Set([cap, capAt()]);
      const moved = /^usage before (\S+) is final: the usage horizon moved to (\S+)$/m.exec(r.stdout);
      assert.ok(moved && expected.has(moved[1]!) && moved[2] === moved[1], r.stdout);
      assert.ok(moved![1]! < new Date().toISOString().slice(0, 7), 'not the month of the cut');
      const { rows } = await fresh.pool.query('select period from metering.billable_horizon');
      assert.deepEqual(rows, [{ period: moved![1] }]);
    } finally {
      await fresh.drop();
    }
  });

  test('a cut without an offset, or a bad EVENT_RETENTION (not a duration, longer than P100Y), is refused naming it; nothing is archived', async () => {
    const cut = await vault(['archive', '--before', '2025-06-01', '--dir', dir], env);
    assert.equal(cut.status, 2);
    assert.match(cut.stderr, /--before: expected an ISO-8601 instant with an offset/);
    const retention = await vault(['archive', '--dir', dir], { ...env, EVENT_RETENTION: 'thirteen months' });
    assert.equal(retention.status, 1);
    assert.match(retention.stderr, /EVENT_RETENTION/);
    assert.doesNotMatch(retention.stderr, /\n\s+at /, 'no stack trace');
    // A duration luxon cannot subtract (a cut before any date) used to reach PostgreSQL as NaN, after the migrations.
    const far = await vault(['archive', '--dir', dir], { ...env, EVENT_RETENTION: 'P1000000Y' });
    assert.equal(far.status, 1);
    assert.match(far.stderr, /EVENT_RETENTION.*at most P100Y/);
    assert.doesNotMatch(far.stdout + far.stderr, /NaN|Invalid DateTime|archiving events/);
  });
});

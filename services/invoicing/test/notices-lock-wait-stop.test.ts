// Re-review (notices stop): a publisher whose tick waits for PUBLISH_LOCK, held by another
// invoicing process (one stuck on a silent broker, say), was stopped as if its own broker were
// silent: `notices.stop_cut reason="the broker did not answer the publisher"`, and cutting the
// bus could not end the PostgreSQL wait, so a pooled session stayed blocked in
// pg_advisory_lock and the app's db.close() waited for it. The cut now names the lock and its
// holder and cancels the wait. Real PostgreSQL, the test's Kafka broker.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { withTransaction } from '@vault/db';
import { memoryLogger } from '@vault/runtime';
import { eventually, freshDatabase, testKafkaBrokers, uniqueName, type TestDatabase } from '@vault/testkit';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { accountNotice } from '../src/notices/notice.ts';
import { recordNotices } from '../src/notices/outbox.ts';
import { NOTICES_STOP_WITHIN_MS, PUBLISH_LOCK, startNoticePublisher } from '../src/notices/publisher.ts';

describe('the notices publisher stopped while it waits for another process’s publish lock (real PostgreSQL and Kafka)', () => {
  let db: TestDatabase;
  let other: pg.Client;
  let otherPid: number;

  before(async () => {
    db = await freshDatabase('notices_lock_wait');
    await ensureInvoicingSchema(db.pool);
    // Another invoicing process, publishing (or stuck): it holds the lock.
    other = new pg.Client({ connectionString: db.url, application_name: 'other-invoicing' });
    await other.connect();
    otherPid = (await other.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    await other.query('select pg_advisory_lock($1)', [PUBLISH_LOCK]);
  });
  after(async () => {
    await other?.end().catch(() => {});
    await db?.drop();
  });

  const waiting = async () =>
    (
      await db.pool.query<{ n: number }>(
        `select count(*)::int as n from pg_locks
          where locktype = 'advisory' and not granted and objid = $1 and database = (select oid from pg_database where datname = current_database())`,
        [PUBLISH_LOCK],
      )
    ).rows[0]!.n;

  test('the cut names the lock and its holder, the wait is cancelled, and no session of the pool is left waiting', async () => {
    await withTransaction(db.pool, (client) => recordNotices(client, [accountNotice('account.suspended', 'acct-1', 1, new Date())]));
    const log = memoryLogger();
    const publisher = startNoticePublisher({
      pool: db.pool,
      brokers: testKafkaBrokers(),
      topic: uniqueName('billing-notices'),
      log,
      everyMs: 100,
    });
    let stopped = false;
    let stop: Promise<unknown> | undefined;
    try {
      await eventually('the tick waits for the lock', async () => (await waiting()) === 1, 60_000);
      const started = performance.now();
      stop = publisher.stop().then(() => (stopped = true));
      const bound = NOTICES_STOP_WITHIN_MS + 3_000;
      await Promise.race([stop, new Promise((r) => setTimeout(r, bound))]);
      assert.ok(stopped, `stopped within ${bound} ms (still stopping after ${(performance.now() - started).toFixed(0)} ms)`);
      const cuts = log.lines.filter((l) => l.includes('event=notices.stop_cut'));
      assert.equal(cuts.length, 1, log.lines.join('\n'));
      assert.match(cuts[0]!, new RegExp(`reason="waiting for the publish lock \\(held by pid ${otherPid} \\(other-invoicing\\)\\)"`));
      assert.doesNotMatch(cuts[0]!, /broker/);
      // db.close() would wait for a session still blocked in pg_advisory_lock.
      await eventually(
        'the pool idle, nothing waiting for the lock',
        async () => db.pool.totalCount === db.pool.idleCount && (await waiting()) === 0,
        2_000,
      );
      assert.equal(log.lines.filter((l) => l.includes('event=notices.publish_failed')).length, 0, log.lines.join('\n'));
    } finally {
      // Whatever failed, a wait left is cancelled (granted, the late tick would call the closed bus) and the stop awaited.
      await db.pool.query(
        `select pg_cancel_backend(pid) from pg_locks where locktype = 'advisory' and not granted and objid = $1
            and database = (select oid from pg_database where datname = current_database())`,
        [PUBLISH_LOCK],
      );
      await other.query('select pg_advisory_unlock($1)', [PUBLISH_LOCK]).catch(() => {});
      await (stop ?? publisher.stop());
    }
    const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from invoicing.notices where published_at is null');
    assert.equal(rows[0]!.n, 1, 'nothing sent by the cut tick');
  });
});

// Once POST /v1/events has its events durably on the bus they will be applied and billed. When the
// claims after the publish then found no database session (the pool's wait ran out, or PostgreSQL
// refused a session with 53300), the app's error handler answered a bare 503 "the database is busy:
// try again", as if nothing was taken. The answer now says it is published, and that sending again
// is safe: the copies are answered as duplicates, applied once.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { uniqueName, type TestDatabase } from '@vault/testkit';
import { getRejected } from '../src/reports/store.ts';
import { type Answered, assertPublished as assertOnTheBus, dynoDay, serveAfterPublish } from './after-publish-app.ts';
import { type BusKind, meteringDatabase, usageOf } from './harness.ts';
import { keepExactly } from './resubmit-fixture.ts';

const LONG = { timeout: 180_000 };
const closing: (() => Promise<void>)[] = [];

/**
 * The metering app in this process, served over HTTP, its consumer running, its claims after the publish
 * on a pool of one session as a role of its own (CONNECTION LIMIT 0 to start with): the test decides when
 * that pool can have a session.
 */
async function start(kind: BusKind) {
  const db: TestDatabase = await meteringDatabase();
  const role = uniqueName('after_publish').replaceAll('-', '_');
  await db.pool.query(`create role ${role} login password 'after' connection limit 0`);
  await db.pool.query(`grant usage on schema metering to ${role}`);
  // What runs after the publish: the claims, and a re-submit's resolve.
  await db.pool.query(`grant select, insert, update on metering.intake_claims, metering.rejected_events to ${role}`);
  await db.pool.query(`grant select on metering.event_keys to ${role}`);
  const url = new URL(db.url);
  url.username = role;
  url.password = 'after';
  const afterPublishPool = new pg.Pool({ connectionString: url.toString(), max: 1, connectionTimeoutMillis: 1_000 });
  afterPublishPool.on('error', () => {});
  const app = await serveAfterPublish(kind, db, afterPublishPool);
  closing.push(async () => {
    await app.close();
    await afterPublishPool.end();
    await db.pool.query(`drop owned by ${role}`);
    await db.drop();
    const admin = new URL(db.url);
    admin.pathname = '/postgres';
    const c = new pg.Client({ connectionString: admin.toString() });
    await c.connect();
    await c.query(`drop role if exists ${role}`).finally(() => c.end());
  });
  const limit = (n: number) => db.pool.query(`alter role ${role} connection limit ${n}`);
  return { db, log: app.log, post: app.post, counted: app.counted, limit, afterPublishPool, resubmit: app.resubmit };
}

/** The 503 of a publish that went through: published, to be applied, sending again safe. */
function assertPublished(answer: Answered, lines: number) {
  assertOnTheBus(answer, lines);
  assert.match(String(answer.body.error), /sending the same body again is safe and answers the counts.*duplicate/);
}

describe('POST /v1/events: the claims after a durable publish find no database session (real PostgreSQL, the app over HTTP)', () => {
  after(async () => {
    for (const close of closing) await close();
  });

  for (const kind of ['embedded', 'kafka'] as const) {
    test(
      `on the ${kind} bus: 503 published:true for 53300 and for the pool's wait; the same body again is all duplicates, applied once`,
      LONG,
      async () => {
        const m = await start(kind);

        // PostgreSQL refuses the after-publish pool's session: too many connections for its role (53300).
        const first = dynoDay(`${kind}-a`);
        assertPublished(await m.post(first), 2);
        await m.counted(2, 0);
        const usage = await usageOf(m.db);
        await m.limit(-1);
        const again = await m.post(first);
        assert.equal(again.status, 202, JSON.stringify(again.body));
        assert.deepEqual(again.body, { accepted: 0, duplicates: 2, rejected: [] });
        await m.counted(2, 2);
        assert.deepEqual(await usageOf(m.db), usage, 'the usage applied once');

        // The pool's one session held: its wait runs out ("timeout exceeded when trying to connect").
        const held = await m.afterPublishPool.connect();
        const second = dynoDay(`${kind}-b`);
        assertPublished(await m.post(second), 2);
        await m.counted(4, 2);
        const usageBoth = await usageOf(m.db);
        held.release();
        const secondAgain = await m.post(second);
        assert.equal(secondAgain.status, 202, JSON.stringify(secondAgain.body));
        assert.deepEqual(secondAgain.body, { accepted: 0, duplicates: 2, rejected: [] });
        await m.counted(4, 4);
        assert.deepEqual(await usageOf(m.db), usageBoth, 'the usage applied once');

        const logged = m.log.lines.join('\n');
        assert.match(logged, /at=warn event=intake\.published_unsettled .*reason=too_many_connections/);
        assert.match(logged, /at=warn event=intake\.published_unsettled .*reason=pool_timeout/);
        assert.doesNotMatch(logged, /event=http\.database_busy|event=http\.error/, 'not the bare "try again", no 500');
      },
    );
  }

  test(
    'a re-submit whose resolve finds no session: 503 published:true, the row pending; re-submitted, a duplicate, resolved, applied once',
    LONG,
    async () => {
      const m = await start('embedded');
      const raw = dynoDay('resubmit').split('\n')[0]!;
      const id = await keepExactly(m.db, raw, { field: 'time', code: 'time_in_future', message: 'then' });
      const answer = await m.resubmit(id);
      assert.equal(answer.status, 503, JSON.stringify(answer.body));
      assert.equal(answer.retryAfter, '5');
      assert.equal(answer.body.published, true, JSON.stringify(answer.body));
      assert.match(String(answer.body.error), /the event is on the bus and will be applied.*re-submitting it is safe/);
      await m.counted(1, 0);
      assert.equal((await getRejected(m.db.pool, id))?.resolved_at, null, 'pending until re-submitted');
      await m.limit(-1);
      const again = await m.resubmit(id);
      assert.equal(again.status, 202, JSON.stringify(again.body));
      assert.deepEqual(again.body, { resolved_by: 'dyno-manager/resubmit-1', duplicate: true });
      await m.counted(1, 1);
      assert.equal((await getRejected(m.db.pool, id))?.resolved_by, 'dyno-manager/resubmit-1');
    },
  );
});

// Once POST /v1/events (or a re-submit) has its events durably on the bus they will be applied and
// billed. The claims after the publish knew only two ways to fail as "published" (53300 and the pool's
// wait: intake-published-no-session.test.ts). A session the server ended (a restart, failover,
// pg_terminate_backend) was answered the app's bare 503 "the database is busy: try again", a new
// session that did not come up in time ("Connection terminated due to connection timeout") and any
// other error a 500 "internal error": the events applied all the same. Any failure after the publish
// is now the 503 `published: true`, the cause logged.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { eventually, type TestDatabase } from '@vault/testkit';
import { getRejected } from '../src/reports/store.ts';
import { assertPublished, dynoDay, serveAfterPublish } from './after-publish-app.ts';
import { type BusKind, meteringDatabase, usageOf } from './harness.ts';
import { keepExactly } from './resubmit-fixture.ts';

const LONG = { timeout: 180_000 };
const closing: (() => Promise<void>)[] = [];
/** How the after-publish pool's sessions name themselves: the one the test terminates. */
const AFTER_PUBLISH_APP = 'f12_after_publish';

/** A port that accepts connections and never answers: a PostgreSQL that does not come up. */
async function silentPort(): Promise<number> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closing.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

type AfterPublish = 'real' | 'silent' | 'read_only';

/**
 * The metering app in this process, served over HTTP, its consumer running. Its statements after the
 * publish go to the pool `use` chose: `real` (one session, named AFTER_PUBLISH_APP), `silent` (a port
 * that never answers, 1 s connection timeout) or `read_only` (every transaction read-only: the claim's
 * insert fails with 25006, an error that is no busy database).
 */
async function start(kind: BusKind) {
  const db: TestDatabase = await meteringDatabase();
  const pools: Record<AfterPublish, pg.Pool> = {
    real: new pg.Pool({ connectionString: db.url, max: 1, application_name: AFTER_PUBLISH_APP }),
    silent: new pg.Pool({
      host: '127.0.0.1',
      port: await silentPort(),
      user: 'nobody',
      password: 'nothing',
      database: 'none',
      max: 1,
      connectionTimeoutMillis: 1_000,
    }),
    read_only: new pg.Pool({ connectionString: db.url, max: 1, options: '-c default_transaction_read_only=on' }),
  };
  for (const p of Object.values(pools)) p.on('error', () => {});
  let current: pg.Pool = pools.real;
  // What the claims and the resolve use of a pool (query, connect), sent to the one the test chose.
  const afterPublishPool = {
    query: (...args: Parameters<pg.Pool['query']>) => (current.query as (...a: unknown[]) => unknown)(...args),
    connect: () => current.connect(),
  } as unknown as pg.Pool;
  const app = await serveAfterPublish(kind, db, afterPublishPool);
  closing.push(async () => {
    await app.close();
    for (const p of Object.values(pools)) await p.end();
    await db.drop();
  });
  const use = (which: AfterPublish) => {
    current = pools[which];
  };
  /**
   * `send`, its claim held by a share lock on intake_claims, and its after-publish session ended by the
   * server (pg_terminate_backend, as a restart or failover ends it) while it waits: the answer.
   */
  const endedWhileWaiting = async <T>(send: () => Promise<T>): Promise<T> => {
    const locker = await db.pool.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table metering.intake_claims in share mode');
      const answered = send();
      let pid: number | undefined;
      await eventually(
        'the claim waits on the lock',
        async () => {
          const { rows } = await db.pool.query<{ pid: number }>(
            `select pid from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'`,
            [AFTER_PUBLISH_APP],
          );
          pid = rows[0]?.pid;
          return pid !== undefined;
        },
        20_000,
      );
      await db.pool.query('select pg_terminate_backend($1)', [pid]);
      return await answered;
    } finally {
      await locker.query('rollback');
      locker.release();
    }
  };
  return { db, log: app.log, post: app.post, resubmit: app.resubmit, counted: app.counted, use, endedWhileWaiting };
}

const NOT_BUSY_NOR_500 = /event=http\.database_busy|event=http\.error/;

describe('POST /v1/events: the counting after a durable publish fails in any way (real PostgreSQL, the app over HTTP)', () => {
  after(async () => {
    for (const close of closing.reverse()) await close();
  });

  for (const kind of ['embedded', 'kafka'] as const) {
    test(
      `on the ${kind} bus: a claim session the server ends, and a new session that never comes up, are each 503 published:true; applied once`,
      LONG,
      async () => {
        const m = await start(kind);

        // The claim waits on a lock; the server ends its session (57P01, as a restart or failover would).
        const first = dynoDay(`${kind}-ended`);
        const ended = await m.endedWhileWaiting(() => m.post(first));
        assertPublished(ended, 2);
        assert.match(String(ended.body.error), /the database session ended.*sending the same body again is safe/);
        await m.counted(2, 0);
        const usage = await usageOf(m.db);
        const again = await m.post(first);
        assert.equal(again.status, 202, JSON.stringify(again.body));
        assert.deepEqual(again.body, { accepted: 0, duplicates: 2, rejected: [] });
        await m.counted(2, 2);
        assert.deepEqual(await usageOf(m.db), usage, 'the usage applied once');

        // A new session does not come up within the connection timeout (pg-pool's "Connection terminated
        // due to connection timeout").
        m.use('silent');
        assertPublished(await m.post(dynoDay(`${kind}-stalled`)), 2);
        await m.counted(4, 2);

        const logged = m.log.lines.join('\n');
        assert.match(logged, /at=warn event=intake\.published_unsettled .*reason=session_ended/);
        assert.match(
          logged,
          /at=warn event=intake\.published_unsettled .*reason=pool_timeout .*error="Connection terminated due to connection timeout"/,
        );
        assert.doesNotMatch(logged, NOT_BUSY_NOR_500, 'not the bare "try again", no 500');
      },
    );
  }

  test(
    'any other error of the claims (a read-only session: 25006) is 503 published:true too, logged at error reason=other; applied once',
    LONG,
    async () => {
      const m = await start('embedded');
      m.use('read_only');
      const day = dynoDay('read-only');
      const answer = await m.post(day);
      assertPublished(answer, 2);
      assert.match(String(answer.body.error), /an internal error stopped it/);
      await m.counted(2, 0);
      m.use('real');
      const again = await m.post(day);
      assert.deepEqual(again.body, { accepted: 0, duplicates: 2, rejected: [] });
      await m.counted(2, 2);
      const logged = m.log.lines.join('\n');
      assert.match(
        logged,
        /at=error event=intake\.published_unsettled .*reason=other .*error="cannot execute INSERT in a read-only transaction"/,
      );
      assert.doesNotMatch(logged, NOT_BUSY_NOR_500);
    },
  );

  test(
    'a re-submit whose claim session the server ends, then whose pool never connects: 503 published:true, the row pending; re-submitted, resolved, applied once',
    LONG,
    async () => {
      const m = await start('embedded');
      const ended = await keepExactly(m.db, dynoDay('resubmit-ended').split('\n')[0]!, {
        field: 'time',
        code: 'time_in_future',
        message: 'then',
      });
      const answer = await m.endedWhileWaiting(() => m.resubmit(ended));
      assertPublished(answer, 1);
      assert.match(String(answer.body.error), /the event is on the bus and will be applied.*re-submitting it is safe/);
      await m.counted(1, 0);
      assert.equal((await getRejected(m.db.pool, ended))?.resolved_at, null, 'pending until re-submitted');
      const again = await m.resubmit(ended);
      assert.equal(again.status, 202, JSON.stringify(again.body));
      assert.deepEqual(again.body, { resolved_by: 'dyno-manager/resubmit-ended-1', duplicate: true });
      await m.counted(1, 1);

      m.use('silent');
      const stalled = await keepExactly(m.db, dynoDay('resubmit-stalled').split('\n')[0]!, {
        field: 'time',
        code: 'time_in_future',
        message: 'then',
      });
      assertPublished(await m.resubmit(stalled), 1);
      await m.counted(2, 1);
      assert.equal((await getRejected(m.db.pool, stalled))?.resolved_at, null, 'pending until re-submitted');

      const logged = m.log.lines.join('\n');
      assert.match(logged, /at=warn event=intake\.published_unsettled path=\/v1\/rejected\/:id\/resubmit .*reason=session_ended/);
      assert.match(logged, /at=warn event=intake\.published_unsettled path=\/v1\/rejected\/:id\/resubmit .*reason=pool_timeout/);
      assert.doesNotMatch(logged, NOT_BUSY_NOR_500);
    },
  );
});

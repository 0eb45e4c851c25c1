// Every door has a time limit, the database too: a request whose statement waits on a lock
// (held by finalize, an archive, an operator's session) is answered 503 at
// DATABASE_STATEMENT_TIMEOUT_MS instead of hanging with its pooled connection; the consumer's
// batches, on the app's main pool, wait for the same lock and complete.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type pg from 'pg';
import { eventually, type RunningService, type TestDatabase } from '@vault/testkit';
import { AUTH, exampleLines } from './harness.ts';
import { holdLock, lockWaiters, startLimitedMetering } from './limited-metering.ts';

const LIMIT_MS = 300;

describe('metering: DATABASE_STATEMENT_TIMEOUT_MS limits requests, not the consumer (the real metering process)', () => {
  let db: TestDatabase | undefined;
  let metering: RunningService | undefined;
  let holder: pg.Client | undefined;
  after(async () => {
    await holder?.end().catch(() => {});
    await metering?.kill('SIGTERM');
    await db?.drop();
  });

  test('GET /v1/stats waiting on a held lock is a 503 with Retry-After at the limit; the consumer waits for the lock, then applies its batch', {
    timeout: 120_000,
  }, async () => {
    ({ db, metering } = await startLimitedMetering(LIMIT_MS));
    const stats = () => fetch(`${metering!.url}/v1/stats`, { headers: AUTH, signal: AbortSignal.timeout(10_000) });
    assert.equal((await stats()).status, 200, 'the route answers when nothing holds its table');

    // Another session holds the table both the route and the consumer's batches need (as a
    // long job's transaction would), from before the events arrive.
    const held = await holdLock(db, 'lock table metering.message_counts in access exclusive mode');
    holder = held.holder;

    const posted = await fetch(`${metering.url}/v1/events`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
      body: exampleLines('october.ndjson').join('\n'),
    });
    assert.equal(posted.status, 202, await posted.text());
    // The consumer's batch is waiting on the lock (a metering session, not the holder's).
    const waiting = () => lockWaiters(db!, held.pid);
    await eventually('the consumer waits on the lock', async () => (await waiting()) >= 1);

    const started = Date.now();
    const busy = await stats();
    const took = Date.now() - started;
    assert.equal(busy.status, 503, await busy.clone().text());
    assert.equal(busy.headers.get('retry-after'), '5');
    assert.match(busy.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await busy.json(), { error: 'the database is busy: try again in a few seconds' });
    assert.ok(took >= LIMIT_MS - 50 && took < 3_000, `answered at about the limit (${took} ms)`);

    // Well past the limit, the consumer is still waiting: its statements have no limit.
    await new Promise((resolve) => setTimeout(resolve, 4 * LIMIT_MS));
    assert.ok((await waiting()) >= 1, 'the consumer still waits, not cancelled');
    const counted = async () => (await db!.pool.query<{ n: number }>('select count(*)::int as n from metering.message_counts')).rows[0]!.n;

    // The lock holder was not disturbed: its transaction goes on and commits.
    assert.equal((await holder.query<{ one: number }>('select 1 as one')).rows[0]!.one, 1);
    await holder.query('commit');

    await eventually('the consumer applied the batch once the lock was let go', async () => (await counted()) > 0);
    const after = await stats();
    assert.equal(after.status, 200, 'the next request, the lock gone, succeeds');

    const timeouts = metering.lines.filter((l) => l.includes('event=http.database_timeout'));
    assert.equal(timeouts.length, 1, timeouts.join('\n'));
    assert.match(timeouts[0]!, /\bat=warn\b/);
    assert.match(timeouts[0]!, /path=\/v1\/stats/);
    assert.match(timeouts[0]!, new RegExp(`limit_ms=${LIMIT_MS}\\b`));
    assert.match(timeouts[0]!, /reason=statement_timeout/);
    assert.doesNotMatch(metering.lines.join('\n'), /event=http\.error|\bat=error\b|\n\s+at /, 'no 500, no error, no stack');
  });
});

// Once POST /v1/events has its events durably on the bus they are applied and billed, so the
// key claims after the publish must not be cut by DATABASE_STATEMENT_TIMEOUT_MS into a 503
// "try again" (the re-send then said accepted:0, and the billed events were never reported
// accepted): they run on the main pool, wait out the lock, and answer the true counts.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type pg from 'pg';
import { eventually, type RunningService, type TestDatabase } from '@vault/testkit';
import { AUTH, exampleLines } from './harness.ts';
import { holdLock, lockWaiters, startLimitedMetering } from './limited-metering.ts';

const LIMIT_MS = 300;

describe('metering: the claim after a durable publish is not cut by DATABASE_STATEMENT_TIMEOUT_MS (the real metering process)', () => {
  let db: TestDatabase | undefined;
  let metering: RunningService | undefined;
  let holder: pg.Client | undefined;
  after(async () => {
    await holder?.end().catch(() => {});
    await metering?.kill('SIGTERM');
    await db?.drop();
  });

  test('intake_claims held past the limit: the POST waits, then answers 202 with every event accepted; a re-send is all duplicates', {
    timeout: 120_000,
  }, async () => {
    ({ db, metering } = await startLimitedMetering(LIMIT_MS));
    const body = exampleLines('october.ndjson').join('\n');
    const post = () =>
      fetch(`${metering!.url}/v1/events`, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
        body,
        signal: AbortSignal.timeout(30_000),
      });

    // Another session holds the claims table against writes (reads go on): the intake's look
    // before the publish passes, its claim after the publish waits.
    const held = await holdLock(db, 'lock table metering.intake_claims in share mode');
    holder = held.holder;

    const started = Date.now();
    const answer = post();
    const waiting = () => lockWaiters(db!, held.pid, '%intake_claims%');
    await eventually('the claim waits on the lock', async () => (await waiting()) >= 1);
    // Well past the limit, the claim still waits: it is not cancelled into a 503.
    await new Promise((resolve) => setTimeout(resolve, 4 * LIMIT_MS));
    assert.ok((await waiting()) >= 1, 'still waiting past the limit');
    await holder.query('commit');

    const posted = await answer;
    const text = await posted.text();
    assert.equal(posted.status, 202, text);
    assert.ok(Date.now() - started > 4 * LIMIT_MS, 'answered after the lock was let go');
    const report = JSON.parse(text) as { accepted: number; duplicates: number; rejected: unknown[] };
    assert.ok(report.accepted > 0, text);

    const stats = async () => (await (await fetch(`${metering!.url}/v1/stats`, { headers: AUTH })).json()) as { events_applied: number };
    await eventually('the consumer applied the events', async () => (await stats()).events_applied === report.accepted);

    const again = await post();
    const second = (await again.json()) as { accepted: number; duplicates: number };
    assert.equal(again.status, 202);
    assert.deepEqual([second.accepted, second.duplicates], [0, report.accepted + report.duplicates], 'the re-send: duplicates only');
    assert.doesNotMatch(metering.lines.join('\n'), /event=http\.database_timeout|event=http\.error/, 'no 503, no 500');
  });
});

// The app's catch-up loop (charging/catch-up-loop.ts): the webhook endpoint is
// checked on every run, not only until the first success after boot, and a
// failed run (the gateway not answering) is tried again soon, not a whole
// interval later. The in-memory gateway of charging-fixture.ts, the real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import { eventually, type TestDatabase } from '@vault/testkit';
import { startCatchUpLoop } from '../src/charging/catch-up-loop.ts';
import type { EventSource } from '../src/charging/event-catch-up.ts';
import { chargingDatabase, FakeGateway } from './charging-fixture.ts';

/** A gateway that has no events of ours. */
const noEvents: EventSource = {
  async *newestFirst() {},
  async *oldestFirstAfter() {},
};

describe('the catch-up loop', () => {
  let db: TestDatabase;
  before(async () => {
    db = await chargingDatabase();
  });
  after(async () => {
    await db?.drop();
  });
  const stored = async (url: string) =>
    (await db.pool.query<{ endpoint_id: string | null }>('select endpoint_id from invoicing.webhook_endpoints where url = $1', [url]))
      .rows[0]?.endpoint_id;

  test('checks the endpoint on every run: one the gateway lost after boot is registered again, with no restart', async () => {
    const url = 'http://invoicing.test/every-run/v1/gateway/webhooks';
    const gateway = new FakeGateway();
    const log = memoryLogger();
    const loop = startCatchUpLoop({ pool: db.pool, log, gateway, events: noEvents, everyMs: 50, retryMs: 50, webhookUrl: url });
    try {
      await eventually('registered at boot', async () => (await stored(url)) !== undefined && (await stored(url)) !== null);
      const first = await stored(url);
      // Deleted at the gateway (its dashboard, or disabled and then removed).
      gateway.endpoints.clear();
      await eventually('registered again', async () => ![first, null, undefined].includes(await stored(url)));
      assert.equal(gateway.endpoints.size, 1);
    } finally {
      await loop.stop();
    }
    assert.ok(log.lines.filter((l) => l.includes('event=webhook_catchup.done')).length >= 2, 'the catch-up ran each time too');
  });

  test('a failed run is tried again within retryMs, not an interval (an hour) later', async () => {
    const url = 'http://invoicing.test/retried/v1/gateway/webhooks';
    const gateway = new FakeGateway();
    gateway.loseAnswers = true;
    let listings = 0;
    const failingOnce: EventSource = {
      newestFirst(since) {
        if (++listings === 1) throw new Error('the gateway did not answer');
        return noEvents.newestFirst(since);
      },
      oldestFirstAfter: noEvents.oldestFirstAfter,
    };
    const log = memoryLogger();
    const loop = startCatchUpLoop({ pool: db.pool, log, gateway, events: failingOnce, everyMs: 3_600_000, retryMs: 100, webhookUrl: url });
    try {
      await eventually('the first run failed', () => log.lines.some((l) => l.includes('event=webhook_catchup.failed')), 5_000);
      assert.ok(log.lines.some((l) => l.includes('event=webhook_endpoint.failed')));
      gateway.loseAnswers = false;
      await eventually('registered on a retry', async () => typeof (await stored(url)) === 'string', 5_000);
      await eventually('caught up on a retry', () => log.lines.some((l) => l.includes('event=webhook_catchup.done')), 5_000);
    } finally {
      await loop.stop();
    }
    assert.equal(gateway.endpoints.size, 1, 'the replayed registration made no second endpoint');
  });
});

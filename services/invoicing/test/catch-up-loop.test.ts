// The app's catch-up loop (charging/catch-up-loop.ts): the webhook endpoint is
// checked on every run, not only until the first success after boot, by one
// process at a time, and a failed run (the gateway not answering) is tried again
// soon, not a whole interval later; a quiet gateway moves the mark all the same.
// The in-memory gateway of charging-fixture.ts, the real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import { eventually, type TestDatabase } from '@vault/testkit';
import { startCatchUpLoop } from '../src/charging/catch-up-loop.ts';
import { catchUpEvents, type EventSource, QUIET_MARK_LAG_SECONDS } from '../src/charging/event-catch-up.ts';
import { readEventMark, saveEventMark } from '../src/charging/event-mark.ts';
import { ensureWebhookEndpoint } from '../src/charging/webhook-endpoint.ts';
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

  test('stopped while the endpoint check is in flight (Ctrl-C, the gateway stopping too): logged as interrupted, not as a failure', async () => {
    const url = 'http://invoicing.test/stopped/v1/gateway/webhooks';
    const gateway = new FakeGateway();
    let entered!: () => void;
    const inFlight = new Promise<void>((r) => (entered = r));
    let cut!: (err: Error) => void;
    // The check waits on the gateway until the stop, which then fails it, as a process going away does.
    gateway.registerWebhookEndpoint = () => {
      entered();
      return new Promise((_, reject) => (cut = reject));
    };
    const log = memoryLogger();
    const loop = startCatchUpLoop({ pool: db.pool, log, gateway, events: noEvents, everyMs: 3_600_000, retryMs: 100, webhookUrl: url });
    await inFlight;
    const stopped = loop.stop();
    cut(new Error('connect ECONNREFUSED 127.0.0.1:12111'));
    await stopped;
    assert.deepEqual(
      log.lines.filter((l) => l.includes('at=error')),
      [],
      'no line at error',
    );
    assert.ok(
      log.lines.some((l) => l.includes('event=webhook_endpoint.interrupted reason=stopping')),
      log.lines.join('\n'),
    );
  });

  test('a quiet gateway (no event of ours for 30 days) is not beyond retention: each run moves the mark to a week before its listing', async () => {
    const day = 86_400;
    const realS = Math.floor(Date.now() / 1000);
    // The last event of ours was 29 days ago (a monthly charge burst), handled then; none since.
    await saveEventMark(db.pool, realS - 29 * day);
    const log = memoryLogger();
    const first = await catchUpEvents({ pool: db.pool, log, events: noEvents });
    assert.equal(first?.listed, 0);
    const moved = (await readEventMark(db.pool))!;
    assert.ok(
      moved >= realS - QUIET_MARK_LAG_SECONDS && moved <= Math.floor(Date.now() / 1000),
      `the mark (${moved}) is the listing's start less a week`,
    );
    // Two days on (every run lists nothing): the last event is 31 days old, nothing was missed.
    const later = () => Date.now() + 2 * day * 1000;
    const second = await catchUpEvents({ pool: db.pool, log, events: noEvents, now: later, gatewayNow: later });
    assert.ok(second);
    assert.ok((await readEventMark(db.pool))! >= moved + 2 * day - 1, 'moved again');
    const third = await catchUpEvents({ pool: db.pool, log, events: noEvents, now: later, gatewayNow: later });
    assert.ok(third);
    assert.deepEqual(
      log.lines.filter((l) => l.includes('webhook_catchup.beyond_retention')),
      [],
      'no run warned beyond retention',
    );
  });

  test('our clock fast (by 15 minutes) never moves the mark past an event the gateway makes after a listing', async () => {
    const realS = Math.floor(Date.now() / 1000);
    await saveEventMark(db.pool, realS - 86_400);
    // Events as the gateway lists them: created by its clock, at or after `since`.
    const made: { id: string; type: string; created: number; data: { object: object } }[] = [];
    const gatewayEvents: EventSource = {
      async *newestFirst(since) {
        yield* made.filter((e) => e.created >= since).sort((a, b) => b.created - a.created);
      },
      async *oldestFirstAfter(since, afterId) {
        const listed = made.filter((e) => e.created >= since).sort((a, b) => a.created - b.created);
        yield* listed.slice(listed.findIndex((e) => e.id === afterId) + 1);
      },
    };
    const fast = () => Date.now() + 900_000;
    const log = memoryLogger();
    assert.equal((await catchUpEvents({ pool: db.pool, log, events: gatewayEvents, now: fast, gatewayNow: fast }))?.listed, 0);
    // Made a minute after that listing, by the gateway's (right) clock: 14 minutes before ours.
    made.push({
      id: 'evt_after_listing',
      type: 'charge.refunded',
      created: realS + 60,
      data: { object: { id: 'ch_x', object: 'charge' } },
    });
    const second = await catchUpEvents({ pool: db.pool, log, events: gatewayEvents, now: fast, gatewayNow: fast });
    assert.equal(second?.listed, 1, 'the event made after the first listing is listed by the next');
  });

  test('two processes checking a deleted endpoint at once: one endpoint at the gateway, and its secret stored', async () => {
    const url = 'http://invoicing.test/two-at-once/v1/gateway/webhooks';
    const log = memoryLogger();
    const gateway = new FakeGateway();
    await ensureWebhookEndpoint(db.pool, gateway, url, log);
    // Deleted at the gateway (its dashboard).
    gateway.endpoints.clear();
    // Both ask about the old endpoint; whichever asks second learns it is gone only after the other
    // has registered and stored its successor (either may ask first: their statements race).
    let oneDone: () => void = () => {};
    const done = new Promise<void>((resolve) => (oneDone = resolve));
    let looks = 0;
    const exists = gateway.webhookEndpointExists.bind(gateway);
    gateway.webhookEndpointExists = async (id) => {
      const answer = await exists(id);
      if (++looks === 2) await done;
      return answer;
    };
    await Promise.all([
      ensureWebhookEndpoint(db.pool, gateway, url, log).then(() => oneDone()),
      ensureWebhookEndpoint(db.pool, gateway, url, log).then(() => oneDone()),
    ]);
    assert.equal(gateway.endpoints.size, 1, `one endpoint at the gateway: ${[...gateway.endpoints].join(', ')}`);
    const { rows } = await db.pool.query<{ endpoint_id: string; secret: string }>(
      'select endpoint_id, secret from invoicing.webhook_endpoints where url = $1',
      [url],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.endpoint_id, [...gateway.endpoints][0], "the gateway's endpoint is the one stored");
    assert.ok(rows[0]!.secret.startsWith('whsec_'), 'its secret stored: its deliveries verify');
  });
});

// Finance review: a month's credits.csv changed after it was taken. An `expired`
// entry is written by the first finalize run after the lot's expiry, dated back
// at it; a run's `applied` entries are dated at its start and committed while
// it runs. So a lot expiring at 23:58 on the last day, exported at 00:01 before
// the next tick, gave a TOTAL that the 00:03 tick then changed. credits.csv is
// refused (409) until the month is over, its expiries are written, and no
// finalize run (nor credit reversal) is writing the ledger.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { grantCredit } from '../src/billing/credit-store.ts';
import { FINALIZE_LOCK } from '../src/billing/finalize.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { CREDITS_CLOCK_MARGIN_SECONDS, CreditsNotFinalError } from '../src/exports/credits-final.ts';
import { exportCsv, parseCsv } from '../src/exports/index.ts';
import { ADMIN, collect, unusedBilling } from './exports-fixture.ts';
import { billingDatabase } from './seed.ts';

const at = (iso: string) => () => new Date(iso);

describe('credits.csv is taken only once its month can no longer change', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  const get = (url: string) => http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN}` } });

  before(async () => {
    db = await billingDatabase();
    const log = memoryLogger({ app: 'invoicing' });
    http = createHttpApp(log);
    invoicingRoutes(http, { pool: db.pool, billing: unusedBilling, prices: loadPriceBook(), adminToken: ADMIN, log });
    await http.ready();
    for (const [grantId, expiresAt] of [
      ['g-soon', '2026-10-31T23:58:00Z'],
      ['g-later', '2026-11-15T00:00:00Z'],
    ] as const) {
      await grantCredit(db.pool, {
        grantId,
        accountId: 'acct-exp',
        amount: '5.00',
        currency: 'USD',
        reason: 'goodwill',
        expiresAt: new Date(expiresAt),
        at: new Date('2026-10-05T00:00:00Z'),
      });
    }
  });
  after(async () => {
    await http.close();
    await db.drop();
  });

  test('a lot that expired at 23:58 on the last day: refused at 00:06 until a finalize run wrote its expiry, then the file a day later is the same', async () => {
    await assert.rejects(collect(exportCsv(db.pool, 'credits', '2026-10', { now: at('2026-11-01T00:06:00Z') })), (err: unknown) => {
      assert.ok(err instanceof CreditsNotFinalError, String(err));
      assert.equal(err.statusCode, 409);
      assert.match(err.message, /^credits.csv of 2026-10 is not final: 1 credit lot\(s\) expired in it have no `expired` entry yet/);
      assert.equal(err.retryAfterSeconds(new Date()), 30);
      return true;
    });
    const refused = await get('/v1/exports/credits.csv?period=2026-10');
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal(refused.headers['retry-after'], '30');
    assert.match(refused.json().error, /1 credit lot\(s\) expired in it have no `expired` entry yet; the next finalize run writes it/);

    // The 00:07 tick: a finalize run of a due month (September) writes off what expired by its start, dated at the expiry.
    const billing = createBilling({
      pool: db.pool,
      prices: loadPriceBook(),
      graceHours: 72,
      now: () => DateTime.fromISO('2026-11-01T00:07:00Z', { zone: 'utc' }),
    });
    assert.equal((await billing.finalize('2026-09')).creditsExpired, 1);

    const first = await collect(exportCsv(db.pool, 'credits', '2026-10', { now: at('2026-11-01T00:08:00Z') }));
    const records = parseCsv(first);
    assert.deepEqual(
      records.slice(1).map((r) => [r[0], r[3], r[4], r[5]]),
      [
        ['2026-10-05T00:00:00.000Z', 'grant', '5.00', 'USD'],
        ['2026-10-05T00:00:00.000Z', 'grant', '5.00', 'USD'],
        ['2026-10-31T23:58:00.000Z', 'expired', '-5.00', 'USD'],
        ['TOTAL', '', '5.00', 'USD'],
      ],
    );
    assert.equal(records.at(-1)![1], '3');
    const dayLater = await collect(exportCsv(db.pool, 'credits', '2026-10', { now: at('2026-11-02T00:00:00Z') }));
    assert.equal(dayLater, first);
    assert.equal((await get('/v1/exports/credits.csv?period=2026-10')).body, first);
  });

  test('the month not over yet: refused, Retry-After until its end and the writers’ clock margin', async () => {
    const now = new Date('2026-11-30T23:00:00Z');
    await assert.rejects(collect(exportCsv(db.pool, 'credits', '2026-11', { now: () => now })), (err: unknown) => {
      assert.ok(err instanceof CreditsNotFinalError, String(err));
      assert.match(err.message, /^credits.csv of 2026-11 is not final: the month runs until 2026-12-01T00:00:00.000Z/);
      assert.match(err.message, /export it then \(from 2026-12-01T00:05:00.000Z, 5 minutes on, for a writer whose clock is behind\)$/);
      assert.equal(err.retryAfterSeconds(now), 3600 + CREDITS_CLOCK_MARGIN_SECONDS);
      return true;
    });
  });

  // A grant is dated by its writer's clock (an operator's vault credit grant, another replica), the
  // month's end by the exporter's: a file taken at 00:00:00.5 by a clock 2 s ahead missed a grant
  // dated 23:59:59 by one 2 s behind. Final only once the month is over by every clock in the margin.
  test('just after the month’s end by the exporter’s clock: still refused, until the writers’ clock margin has passed', async () => {
    const now = new Date('2026-12-01T00:00:00.500Z');
    await assert.rejects(collect(exportCsv(db.pool, 'credits', '2026-11', { now: () => now })), (err: unknown) => {
      assert.ok(err instanceof CreditsNotFinalError, String(err));
      assert.match(
        err.message,
        /^credits.csv of 2026-11 is not final yet: the month ended at 2026-12-01T00:00:00.000Z, but a grant or reversal from a clock up to 5 minutes behind may still be dated in it: export it from 2026-12-01T00:05:00.000Z$/,
      );
      assert.equal(err.retryAfterSeconds(now), 300);
      return true;
    });
  });

  test('while a finalize run (or a reversal) holds the ledger: refused, naming it; the export lets go of the lock at once after', async () => {
    const writer = await db.pool.connect();
    try {
      // As finalize holds it for its whole run: a session lock.
      await writer.query('select pg_advisory_lock($1)', [FINALIZE_LOCK]);
      const now = at('2026-11-02T00:00:00Z');
      await assert.rejects(collect(exportCsv(db.pool, 'credits', '2026-10', { now, ledgerWaitMs: 300 })), (err: unknown) => {
        assert.ok(err instanceof CreditsNotFinalError, String(err));
        assert.match(err.message, /a finalize run or a credit reversal is writing the credit ledger/);
        return true;
      });
      const busy = await get('/v1/exports/credits.csv?period=2026-10');
      assert.equal(busy.statusCode, 409, busy.body);
      assert.equal(busy.headers['retry-after'], '30');
      await writer.query('select pg_advisory_unlock($1)', [FINALIZE_LOCK]);
      const done = await collect(exportCsv(db.pool, 'credits', '2026-10', { now }));
      assert.match(done, /\r\nTOTAL,3,,,5.00,USD,/);
      // Nothing left holding it: a finalize run takes it at once.
      const { rows } = await writer.query<{ got: boolean }>('select pg_try_advisory_lock($1) as got', [FINALIZE_LOCK]);
      assert.equal(rows[0]!.got, true);
      await writer.query('select pg_advisory_unlock($1)', [FINALIZE_LOCK]);
    } finally {
      writer.release();
    }
  });
});

// Finance review: a month not due yet (before its end + INVOICE_GRACE_HOURS)
// has no invoices because none can have been made, not because it had none: its
// invoices and lines exports are refused (409, Retry-After its due time), never a
// header and a `TOTAL,0,…` row that looks like an empty month. Also: `onDone`
// (export.done, the CLI's summary) only once the control row was taken.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { CREDITS_CLOCK_MARGIN_SECONDS } from '../src/exports/credits-final.ts';
import { exportCsv, type ExportSummary, MonthNotDueError } from '../src/exports/index.ts';
import { ADMIN, collect, exportsDatabase, INVOICE_HEADER, LINE_HEADER, unusedBilling } from './exports-fixture.ts';

const month = (t: DateTime) => t.toUTC().toFormat('yyyy-MM');

describe('finance exports of a month not due yet', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  let log: ReturnType<typeof memoryLogger>;
  // The month before the real clock's, with a grace that ends a day from now: ended, not due.
  const now = DateTime.utc();
  const lastMonth = now.startOf('month').minus({ months: 1 });
  const inGrace = month(lastMonth);
  const graceHours = Math.ceil(now.diff(lastMonth.plus({ months: 1 }), 'hours').hours) + 24;
  const dueOfInGrace = lastMonth.plus({ months: 1, hours: graceHours });
  const future = month(now.plus({ months: 2 }));
  const get = (url: string, method: 'GET' | 'HEAD' = 'GET') => http.inject({ method, url, headers: { authorization: `Bearer ${ADMIN}` } });

  before(async () => {
    db = await exportsDatabase();
    log = memoryLogger({ app: 'invoicing' });
    http = createHttpApp(log);
    invoicingRoutes(http, {
      pool: db.pool,
      billing: unusedBilling,
      prices: loadPriceBook(),
      adminToken: ADMIN,
      log,
      exports: { pool: db.pool, concurrency: 3, graceHours },
    });
    await http.ready();
  });
  after(async () => {
    await http.close();
    await db.drop();
  });

  test('a month ended but inside its grace period: invoices.csv and lines.csv are 409 naming the period and its due time, Retry-After until then', async () => {
    for (const kind of ['invoices', 'lines']) {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await get(`/v1/exports/${kind}.csv?period=${inGrace}`, method);
        assert.equal(res.statusCode, 409, `${kind} ${method}: ${res.body}`);
        const retryAfter = Number(res.headers['retry-after']);
        const untilDue = dueOfInGrace.diff(DateTime.utc(), 'seconds').seconds;
        assert.ok(retryAfter > untilDue - 60 && retryAfter <= untilDue + 1, `Retry-After ${retryAfter}, due in ${untilDue} s`);
        if (method === 'GET') {
          assert.equal(
            res.json().error,
            `${inGrace} is not finalized: it is not due until ${dueOfInGrace.toJSDate().toISOString()} (its end plus INVOICE_GRACE_HOURS=${graceHours}), ` +
              'so its invoices are not made yet: export it once it has been finalized',
          );
        }
      }
    }
    assert.ok(!log.lines.some((l) => l.includes('export.done')), 'nothing exported');
  });

  test("a month to come is 409 too, and so is its credits.csv, and the running month's: Retry-After until its end", async () => {
    const res = await get(`/v1/exports/invoices.csv?period=${future}`);
    assert.equal(res.statusCode, 409, res.body);
    assert.match(res.json().error, new RegExp(`^${future} is not finalized: it is not due until `));
    for (const period of [future, month(now)]) {
      const credits = await get(`/v1/exports/credits.csv?period=${period}`);
      assert.equal(credits.statusCode, 409, credits.body);
      const end = DateTime.fromFormat(period, 'yyyy-MM', { zone: 'utc' }).plus({ months: 1 });
      const untilEnd = end.diff(DateTime.utc(), 'seconds').seconds;
      const retryAfter = Number(credits.headers['retry-after']);
      // Until the end and the writers' clock margin (credits-final.ts).
      const untilFinal = untilEnd + CREDITS_CLOCK_MARGIN_SECONDS;
      assert.ok(retryAfter > untilFinal - 60 && retryAfter <= untilFinal + 1, `Retry-After ${retryAfter}, final in ${untilFinal} s`);
      assert.match(
        credits.json().error,
        new RegExp(`^credits.csv of ${period} is not final: the month runs until ${end.toJSDate().toISOString()}`),
      );
    }
    // The month just ended exports: its ledger has no expiry left to write, and nothing is writing it.
    assert.equal((await get(`/v1/exports/credits.csv?period=${inGrace}`)).statusCode, 200);
    // A due month still exports: October of the fixture.
    assert.equal((await get('/v1/exports/invoices.csv?period=2026-10')).statusCode, 200);
  });

  test('exportCsv (the CLI’s) refuses before its first byte, up to the due instant, and exports from it', async () => {
    const due = new Date('2026-11-04T00:00:00.000Z'); // October's end + 72 hours
    for (const kind of ['invoices', 'lines'] as const) {
      const early = exportCsv(db.pool, kind, '2026-10', { graceHours: 72, now: () => new Date(due.getTime() - 1) });
      // Ended whatever happens, so an export that did start gives its client back (the pool ends after).
      after(() => early.return(undefined as never));
      await assert.rejects(early.next(), (err: unknown) => {
        assert.ok(err instanceof MonthNotDueError);
        assert.equal(err.dueAt.toISOString(), due.toISOString());
        assert.equal(err.retryAfterSeconds(new Date(due.getTime() - 1)), 1);
        assert.match(
          err.message,
          /^2026-10 is not finalized: it is not due until 2026-11-04T00:00:00.000Z \(its end plus INVOICE_GRACE_HOURS=72\)/,
        );
        return true;
      });
      const onTime = await collect(exportCsv(db.pool, kind, '2026-10', { graceHours: 72, now: () => due }));
      assert.ok(onTime.startsWith(`${(kind === 'invoices' ? INVOICE_HEADER : LINE_HEADER).join(',')}\r\n`));
    }
    assert.equal(await db.pool.query('select 1').then((r) => r.rowCount), 1, 'the refused exports gave their clients back');
  });

  test('onDone is told only once the control row was taken: a reader gone before it is not done', async () => {
    const told: ExportSummary[] = [];
    const chunks = exportCsv(db.pool, 'lines', '2026-10', { batchSize: 5, onDone: (s) => told.push(s) });
    const header = await chunks.next();
    const rows = await chunks.next();
    const control = await chunks.next();
    assert.ok(!header.done && !rows.done && !control.done);
    assert.match(control.value, /^TOTAL,5,/);
    assert.equal(told.length, 0, 'the control row is yielded, not yet taken');
    await chunks.return(undefined as never);
    assert.equal(told.length, 0, 'abandoned at the control row: not done');

    const whole = exportCsv(db.pool, 'lines', '2026-10', { onDone: (s) => told.push(s) });
    await collect(whole);
    assert.deepEqual(
      told.map((s) => [s.rows, s.total]),
      [[5, '74.78']],
    );
  });
});

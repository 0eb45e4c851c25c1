// Re-review of credits_taken (migration 038): note_credits_taken is SECURITY DEFINER and was
// executable by PUBLIC for any month, so a role with no table rights (cc-forms', a SELECT-only
// finance role) could note the month under way and refuse every finalize run, grant and
// reversal in it, with a message blaming NTP. Migration 040 revokes it from PUBLIC (an export
// role is granted it) and refuses a month the database's clock has not seen end. Also: a grant
// whose past expiry falls in a taken month is still the 400 naming expires_at, not a 409.
// Real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { type CreditDeps, grant, GrantRefused } from '../src/billing/credits.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { CreditsNotFinalError } from '../src/exports/credits-final.ts';
import { exportCsv } from '../src/exports/index.ts';
import { ADMIN, collect } from './exports-fixture.ts';
import { dropRoles, roleOn } from './credits-taken-roles.ts';
import { billingDatabase } from './seed.ts';

const prices = loadPriceBook();

describe('invoicing.note_credits_taken: only for roles granted it, only for a month over by the database’s clock (real PostgreSQL)', () => {
  let db: TestDatabase;
  let usageOnly: Awaited<ReturnType<typeof roleOn>>;
  let finance: Awaited<ReturnType<typeof roleOn>>;
  const taken = async () => (await db.pool.query<{ period: string }>('select period from invoicing.credits_taken order by period')).rows;
  // The database's clock, as the guard reads it.
  let month: string;
  let previous: string;

  before(async () => {
    db = await billingDatabase();
    // As cc-forms' role reads blocked_cards: the schema, and no table of the ledger.
    usageOnly = await roleOn(db, (role) => [`grant usage on schema invoicing to ${role}`]);
    // The SELECT-only export role as documented (Export preconditions), with the grant credits.csv needs.
    finance = await roleOn(db, (role) => [
      `grant usage on schema invoicing, metering to ${role}`,
      `grant select on all tables in schema invoicing, metering to ${role}`,
      `grant execute on function invoicing.note_credits_taken(text, timestamptz) to ${role}`,
    ]);
    const { rows } = await db.pool.query<{ month: string; previous: string }>(
      `select to_char(now() at time zone 'UTC', 'YYYY-MM') as month,
              to_char((now() at time zone 'UTC') - interval '1 month', 'YYYY-MM') as previous`,
    );
    ({ month, previous } = rows[0]!);
  });
  after(async () => {
    await usageOnly?.pool.end();
    await finance?.pool.end();
    await db?.drop();
    await dropRoles([usageOnly?.role, finance?.role].filter((r): r is string => r !== undefined));
  });

  test('a role not granted EXECUTE is refused, whatever the month; nothing is noted', async () => {
    for (const period of [month, previous]) {
      await assert.rejects(
        usageOnly.pool.query('select invoicing.note_credits_taken($1, now())', [period]),
        /permission denied for function note_credits_taken/,
      );
    }
    assert.deepEqual(await taken(), []);
  });

  test('the month under way is refused even to a role granted it; a finalize run and a grant this month still run; a month over is noted', async () => {
    await assert.rejects(finance.pool.query('select invoicing.note_credits_taken($1, now())', [month]), (err: unknown) => {
      assert.equal((err as { code?: string }).code, '55000');
      assert.match((err as Error).message, new RegExp(`^month: ${month} has not ended by the database's clock \\(`));
      return true;
    });
    // The export of a SELECT-only role whose clock is ahead (past the month's end and margin): 409, nothing noted.
    const ahead = DateTime.fromFormat(month, 'yyyy-MM', { zone: 'utc' }).plus({ months: 1, minutes: 6 }).toJSDate();
    await assert.rejects(collect(exportCsv(finance.pool, 'credits', month, { now: () => ahead })), (err: unknown) => {
      assert.ok(err instanceof CreditsNotFinalError, String(err));
      assert.equal(err.statusCode, 409);
      assert.match(
        err.message,
        new RegExp(`^credits\\.csv of ${month} is not final: month: ${month} has not ended by the database's clock`),
      );
      assert.match(err.message, /this process's clock is ahead of it: set it right \(NTP\)$/);
      return true;
    });
    assert.deepEqual(await taken(), []);

    // Writers dated now by a right clock are not refused.
    const deps: CreditDeps = { pool: db.pool, currency: prices.currency, now: () => DateTime.utc() };
    assert.equal(
      (await grant(deps, 'acct-now', { id: 'g-now', amount: '1.00', reason: 'goodwill', new_account: true })).outcome,
      'created',
    );
    // Grace 0: the previous month is due whatever day this runs.
    const billing = createBilling({ pool: db.pool, prices, graceHours: 0, now: () => DateTime.utc() });
    await billing.finalize(previous);

    await finance.pool.query('select invoicing.note_credits_taken($1, now())', [previous]);
    assert.deepEqual(await taken(), [{ period: previous }]);
  });

  test('the owner notes directly, so an injected clock exports a month to come (as tests do)', async () => {
    const next = DateTime.fromFormat(month, 'yyyy-MM', { zone: 'utc' }).plus({ months: 1 });
    const past = next.plus({ months: 1, minutes: 6 }).toJSDate();
    const file = await collect(exportCsv(db.pool, 'credits', next.toFormat('yyyy-MM'), { now: () => past }));
    assert.match(file, /\r\nTOTAL,0,/);
    assert.ok((await taken()).some((r) => r.period === next.toFormat('yyyy-MM')));
  });
});

describe('a grant whose past expiry falls in a month whose credits.csv was taken (real PostgreSQL)', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  const clock = DateTime.fromISO('2026-12-07T10:00:00Z', { zone: 'utc' });

  before(async () => {
    db = await billingDatabase();
    const log = memoryLogger({ app: 'invoicing' });
    http = createHttpApp(log);
    const billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => clock });
    invoicingRoutes(http, { pool: db.pool, billing, prices, adminToken: ADMIN, log });
    await http.ready();
    await db.pool.query(`insert into invoicing.credits_taken (period, taken_at) values ('2026-11', '2026-12-01T00:05:00.001Z')`);
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('is the 400 naming expires_at (a typo for 2027), not a 409 about the taken month', async () => {
    const deps: CreditDeps = { pool: db.pool, currency: prices.currency, now: () => clock };
    const request = { id: 'g-typo', amount: '5.00', reason: 'goodwill', expires_at: '2026-11-15T00:00:00Z', new_account: true };
    await assert.rejects(grant(deps, 'acct-typo', request), (err: unknown) => {
      assert.ok(err instanceof GrantRefused, String(err));
      assert.equal(err.field, 'expires_at');
      return true;
    });
    const res = await http.inject({
      method: 'POST',
      url: '/v1/accounts/acct-typo/credits',
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: request,
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().fields[0].field, 'expires_at');
    assert.match(res.json().fields[0].message, /must be in the future/);
  });
});

// Finance review: credits.csv of a month waits CREDITS_CLOCK_MARGIN_SECONDS (5
// minutes) past the month's end by the exporter's clock, but grants, reversals
// and a finalize run's `applied` entries are dated by their writer's clock (an
// operator's laptop, another replica). A writer 7 minutes behind, after the
// file was taken, dated an entry in the month: the file taken again had it, and
// finance had booked the first. The export now notes the month taken (migration
// 038) under the ledger's locks; such a writer is refused and writes nothing.
// Real PostgreSQL, injected clocks; the CLI as a process with a month noted.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import pg from 'pg';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { type TestDatabase, vault } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { grantCredit } from '../src/billing/credit-store.ts';
import { type CreditDeps, grant, reverse } from '../src/billing/credits.ts';
import { EntryInTakenMonthError } from '../src/billing/credits-taken.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { exportCsv } from '../src/exports/index.ts';
import { ADMIN, collect } from './exports-fixture.ts';
import { billingDatabase, seedOwners, seedUsage } from './seed.ts';

const prices = loadPriceBook();
// The exporter's clock: the first instant November's file is final (its end and the margin).
const EXPORTED = DateTime.fromISO('2026-12-01T00:05:00.001Z', { zone: 'utc' });
// A writer whose clock is 7 minutes behind the exporter's, after the file was taken: still in November.
const BEHIND = EXPORTED.minus({ minutes: 7 });

/** What a refusal of a writer dated `at` in November says: the month, the writer's clock, the file's taking. */
const refusedIn = (writer: string, at: DateTime) =>
  new RegExp(
    `^${writer} refused: this process's clock says ${at.toISO()!.replace('.', '\\.')}, in 2026-11, whose credits\\.csv was already taken ` +
      `\\(at 2026-12-01T00:05:00\\.001Z by the exporting clock\\).*set it right \\(NTP\\) and try again; nothing was written$`,
  );

describe('a writer whose clock is behind, after credits.csv of its month was taken (real PostgreSQL)', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  let clock = EXPORTED;
  let deps: CreditDeps;
  let november: string;
  const exported = (period: string, at: DateTime) => collect(exportCsv(db.pool, 'credits', period, { now: () => at.toJSDate() }));
  const entries = async () => (await db.pool.query<{ n: number }>('select count(*)::int as n from invoicing.credit_entries')).rows[0]!.n;
  const post = (url: string, payload: object) =>
    http.inject({ method: 'POST', url, headers: { authorization: `Bearer ${ADMIN}` }, payload });

  before(async () => {
    db = await billingDatabase();
    deps = { pool: db.pool, currency: prices.currency, now: () => clock };
    const log = memoryLogger({ app: 'invoicing' });
    http = createHttpApp(log);
    const billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => clock });
    invoicingRoutes(http, { pool: db.pool, billing, prices, adminToken: ADMIN, log });
    await http.ready();

    // October's usage not finalized yet (a revisit, a killed run), and credit to draw on: a run applies it.
    await seedOwners(db.pool, [{ app: 'late-app', account: 'acct-fin', from: '2026-10-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      { app: 'late-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-01T00:00:00Z', to: '2026-11-01T00:00:00Z' },
    ]);
    await grantCredit(db.pool, {
      grantId: 'g-oct',
      accountId: 'acct-fin',
      amount: '5.00',
      currency: 'USD',
      reason: 'goodwill',
      expiresAt: null,
      at: new Date('2026-10-05T00:00:00Z'),
    });
    clock = DateTime.fromISO('2026-11-10T00:00:00Z', { zone: 'utc' });
    await grant(deps, 'acct-late', { id: 'g-nov', amount: '4.00', reason: 'goodwill', new_account: true });

    november = await exported('2026-11', EXPORTED);
    assert.match(november, /g-nov/);
    assert.match(november, /\r\nTOTAL,1,,,4\.00,USD,/);
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('a grant 7 minutes behind is refused naming the month and its clock, writes nothing, and the file taken again is byte-identical', async () => {
    clock = BEHIND;
    const before = await entries();
    await assert.rejects(
      grant(deps, 'acct-late', { id: 'g-late', amount: '3.00', reason: 'goodwill', new_account: true }),
      (err: unknown) => {
        assert.ok(err instanceof EntryInTakenMonthError, String(err));
        assert.equal(err.statusCode, 409);
        assert.match(err.message, refusedIn('credit grant', BEHIND));
        return true;
      },
    );
    const http409 = await post('/v1/accounts/acct-late/credits', {
      id: 'g-late-http',
      amount: '3.00',
      reason: 'goodwill',
      new_account: true,
    });
    assert.equal(http409.statusCode, 409, http409.body);
    assert.deepEqual(Object.keys(http409.json()), ['error']);
    assert.match(http409.json().error, refusedIn('credit grant', BEHIND));
    assert.equal(await entries(), before, 'nothing written');
    assert.equal(await exported('2026-11', EXPORTED.plus({ days: 1 })), november);
    // The same grant asked again writes nothing either way: it is answered as recorded.
    const replay = await grant(deps, 'acct-late', { id: 'g-nov', amount: '4.00', reason: 'goodwill', new_account: true });
    assert.equal(replay.outcome, 'existing');
  });

  test('a reversal 7 minutes behind is refused (HTTP 409 {error}), writes nothing, and the file is the same', async () => {
    clock = BEHIND;
    const before = await entries();
    await assert.rejects(reverse(deps, 'acct-late', 'g-nov', { reason: 'granted in error' }), (err: unknown) => {
      assert.ok(err instanceof EntryInTakenMonthError, String(err));
      assert.match(err.message, refusedIn('credit reversal', BEHIND));
      return true;
    });
    const http409 = await post('/v1/accounts/acct-late/credits/g-nov/reverse', { reason: 'granted in error' });
    assert.equal(http409.statusCode, 409, http409.body);
    assert.deepEqual(Object.keys(http409.json()), ['error']);
    assert.match(http409.json().error, refusedIn('credit reversal', BEHIND));
    assert.equal(await entries(), before, 'nothing written');
    assert.equal(await exported('2026-11', EXPORTED.plus({ days: 1 })), november);
  });

  test('a finalize run 7 minutes behind is refused before it writes (no invoice, no `applied` entry dated in November); on time, it applies the credit in December', async () => {
    const invoices = async () =>
      (await db.pool.query<{ n: number }>(`select count(*)::int as n from invoicing.invoices where account_id = 'acct-fin'`)).rows[0]!.n;
    const behind = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => BEHIND });
    const before = await entries();
    await assert.rejects(behind.finalize('2026-10'), (err: unknown) => {
      assert.ok(err instanceof EntryInTakenMonthError, String(err));
      assert.match(err.message, refusedIn('finalize run', BEHIND));
      return true;
    });
    assert.equal(await invoices(), 0);
    assert.equal(await entries(), before);
    assert.equal(await exported('2026-11', EXPORTED.plus({ days: 1 })), november);

    const onTime = DateTime.fromISO('2026-12-01T00:06:00Z', { zone: 'utc' });
    const report = await createBilling({ pool: db.pool, prices, graceHours: 72, now: () => onTime }).finalize('2026-10');
    assert.equal(report.creditApplied, '5.00');
    assert.equal(await invoices(), 1);
    assert.equal(await exported('2026-11', EXPORTED.plus({ days: 1 })), november);
    const applied = await db.pool.query<{ at: Date; amount: string }>(
      `select at, amount::text from invoicing.credit_entries where account_id = 'acct-fin' and kind = 'applied'`,
    );
    assert.deepEqual(applied.rows, [{ at: onTime.toJSDate(), amount: '-5.00' }], 'dated in December, whose file is not taken');
  });

  test('a grant dated in a month not taken is unaffected, even 7 minutes behind; one whose expiry falls in a taken month is refused', async () => {
    // December's file was never taken: a clock 7 minutes behind the year's end dates its grant there.
    clock = DateTime.fromISO('2026-12-31T23:58:00.001Z', { zone: 'utc' });
    const made = await grant(deps, 'acct-late', { id: 'g-dec', amount: '2.00', reason: 'goodwill', new_account: true });
    assert.equal(made.outcome, 'created');
    assert.equal(made.grant.granted_at, '2026-12-31T23:58:00.001Z');
    const reversed = await reverse(deps, 'acct-late', 'g-dec', { amount: '1.00', reason: 'half in error' });
    assert.equal(reversed.outcome, 'created');

    // Dated in September (never taken), expiring in November: its `expired` entry would be dated in November.
    clock = DateTime.fromISO('2026-09-15T00:00:00Z', { zone: 'utc' });
    await assert.rejects(
      grant(deps, 'acct-late', { id: 'g-exp', amount: '2.00', reason: 'trial', expires_at: '2026-11-20T00:00:00Z', new_account: true }),
      (err: unknown) => {
        assert.ok(err instanceof EntryInTakenMonthError, String(err));
        assert.match(
          err.message,
          /^credit grant refused: it would expire at 2026-11-20T00:00:00\.000Z, in 2026-11 \(this process's clock says 2026-09-15/,
        );
        return true;
      },
    );
    assert.equal(await exported('2026-11', EXPORTED.plus({ days: 30 })), november);
  });
});

describe('vault credit grant|reverse from a clock in a month whose credits.csv was taken', () => {
  let db: TestDatabase;
  const cli = (args: string[]) => vault(args, { DATABASE_URL: db.url, ADMIN_TOKEN: ADMIN });

  before(async () => {
    db = await billingDatabase();
  });
  after(() => db?.drop());

  test('exit 1, the refusal on stderr naming the month and the clock, nothing on stdout, nothing written', async () => {
    const granted = await cli([
      'credit',
      'grant',
      '--account',
      'acct-cli',
      '--amount',
      '5.00',
      '--reason',
      'goodwill',
      '--id',
      'g-cli',
      '--new-account',
    ]);
    assert.equal(granted.status, 0, granted.stderr + granted.stdout);
    // As an exporter whose clock is past this month's end and margin: this process's clock is behind it.
    // Written as the owner: note_credits_taken refuses a month the database's clock has not seen end.
    const month = DateTime.utc().toFormat('yyyy-MM');
    await db.pool.query('insert into invoicing.credits_taken (period, taken_at) values ($1, now())', [month]);
    const count = async () => (await db.pool.query<{ n: number }>('select count(*)::int as n from invoicing.credit_entries')).rows[0]!.n;
    const before = await count();
    const refused = new RegExp(
      `^vault: credit failed: credit (grant|reversal) refused: this process's clock says \\S+, in ${month}, whose credits\\.csv was already taken .*nothing was written\\n$`,
    );

    const grantAgain = await cli([
      'credit',
      'grant',
      '--account',
      'acct-cli',
      '--amount',
      '3.00',
      '--reason',
      'goodwill',
      '--id',
      'g-cli-2',
    ]);
    assert.equal(grantAgain.status, 1, grantAgain.stderr + grantAgain.stdout);
    assert.equal(grantAgain.stdout, '');
    assert.match(grantAgain.stderr, refused);
    assert.match(grantAgain.stderr, /credit grant refused/);

    const reversal = await cli(['credit', 'reverse', 'g-cli', '--reason', 'granted in error']);
    assert.equal(reversal.status, 1, reversal.stderr + reversal.stdout);
    assert.equal(reversal.stdout, '');
    assert.match(reversal.stderr, refused);
    assert.match(reversal.stderr, /credit reversal refused/);
    assert.equal(await count(), before);
  });
});

describe('credits.csv taken by a SELECT-only role', () => {
  let db: TestDatabase;
  let readOnly: pg.Pool;
  const role = `finance_ro_${randomBytes(4).toString('hex')}`;

  before(async () => {
    db = await billingDatabase();
    const { rows } = await db.pool.query<{ db: string }>('select current_database() as db');
    await db.pool.query(`create role ${role} login password 'ro-secret'`);
    await db.pool.query(`grant connect on database ${rows[0]!.db} to ${role}`);
    await db.pool.query(`grant usage on schema invoicing to ${role}`);
    await db.pool.query(`grant select on all tables in schema invoicing to ${role}`);
    // What credits.csv needs besides (migration 040; docs/contracts/invoicing.md, Export preconditions).
    await db.pool.query(`grant execute on function invoicing.note_credits_taken(text, timestamptz) to ${role}`);
    const url = new URL(db.url);
    url.username = role;
    url.password = 'ro-secret';
    readOnly = new pg.Pool({ connectionString: url.toString(), max: 2 });
  });
  after(async () => {
    await readOnly?.end();
    await db?.drop();
    // A role is the server's: dropped once its grants went with the database.
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`drop role if exists ${role}`);
    } finally {
      await admin.end();
    }
  });

  test('exports, and its month is noted taken all the same (note_credits_taken): it can write nothing else', async () => {
    const { rows: clock } = await db.pool.query<{ now: Date }>('select clock_timestamp() as now');
    const file = await collect(exportCsv(readOnly, 'credits', '2026-10', { now: () => new Date('2026-11-02T00:00:00Z') }));
    assert.match(file, /\r\nTOTAL,0,/);
    const { rows } = await db.pool.query<{ period: string; taken_at: Date }>('select period, taken_at from invoicing.credits_taken');
    // Dated by the database's clock, not the exporter's (migration 043: credits-taken-clock.test.ts).
    assert.deepEqual(
      rows.map((r) => r.period),
      ['2026-10'],
    );
    assert.ok(rows[0]!.taken_at >= clock[0]!.now, `${rows[0]!.taken_at.toISOString()} is the database's clock, not 2026-11-02`);
    await assert.rejects(
      readOnly.query(`insert into invoicing.credits_taken (period, taken_at) values ('2026-09', now())`),
      /permission denied/,
    );
  });
});

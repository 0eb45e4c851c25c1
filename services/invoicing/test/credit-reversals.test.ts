// A credit grant can be corrected (docs/contracts/invoicing.md, Credits:
// reversals): POST /v1/accounts/:id/credits/:credit_id/reverse takes back part
// or all of what is left of one grant, never below zero, never what invoices
// used, once; under finalize's lock, so a finalize running at the same time
// never draws on what a reversal took. And a grant to an account invoicing has
// never seen is refused unless it says the account is new. On the real
// PostgreSQL, through the app's routes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { createToken } from '../src/access/tokens.ts';
import { FINALIZE_LOCK } from '../src/billing/finalize.ts';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { basicDyno, billingDatabase, seedOwners, seedUsage } from './seed.ts';

const ADMIN = 'reversals-admin-token-0123456789abcdef';
const prices = loadPriceBook();
// A basic dyno all October: 7.00.
const OCTOBER = { from: '2026-10-01T00:00:00Z', to: '2026-11-01T00:00:00Z' };

describe('reversing a credit grant, and grants to accounts invoicing knows', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  let clock = DateTime.fromISO('2026-10-05T00:00:00Z', { zone: 'utc' });
  let billing: ReturnType<typeof createBilling>;
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const grant = (account: string, body: object) =>
    http.inject({ method: 'POST', url: `/v1/accounts/${account}/credits`, headers: as(ADMIN), payload: body });
  const reverse = (account: string, credit: string, body: object, token = ADMIN) =>
    http.inject({ method: 'POST', url: `/v1/accounts/${account}/credits/${credit}/reverse`, headers: as(token), payload: body });
  const balance = async (account: string) =>
    (await http.inject({ method: 'GET', url: `/v1/accounts/${account}/balance`, headers: as(ADMIN) })).json().credit as string;
  /** What is left of each of the account's lots, by grant id: never below zero. */
  const lots = async (account: string) =>
    Object.fromEntries(
      (
        await db.pool.query<{ grant_id: string; remaining: string }>(
          `select e.grant_id, l.remaining::text from invoicing.credit_lots l join invoicing.credit_entries e on e.id = l.id
            where l.account_id = $1 order by e.grant_id`,
          [account],
        )
      ).rows.map((r) => [r.grant_id, r.remaining]),
    );
  const reversals = async (account: string) =>
    (
      await db.pool.query<{ amount: string; reason: string }>(
        `select amount::text, reason from invoicing.credit_entries where account_id = $1 and kind = 'reversal' order by at, created_at`,
        [account],
      )
    ).rows.map((r) => `${r.amount} ${r.reason}`);
  const invoiceOf = async (account: string, period: string) =>
    (
      await db.pool.query<{ credit_applied: string; total: string }>(
        'select credit_applied::text, total::text from invoicing.invoices where account_id = $1 and period = $2',
        [account, period],
      )
    ).rows[0];
  /** An account owning an app that ran a basic dyno all October (7.00), with `grants` granted on Oct 5, in order. */
  async function accountWith(account: string, grants: { id: string; amount: string }[]) {
    clock = DateTime.fromISO('2026-10-05T00:00:00Z', { zone: 'utc' });
    await seedOwners(db.pool, [{ app: `${account}-app`, account, from: '2026-09-01T00:00:00Z' }]);
    await seedUsage(db.pool, [basicDyno(`${account}-app`, OCTOBER.from, OCTOBER.to)]);
    for (const g of grants) {
      // A minute apart: of two lots that never expire, the older is used first.
      clock = clock.plus({ minutes: 1 });
      assert.equal((await grant(account, { ...g, reason: 'goodwill' })).statusCode, 201);
    }
  }

  before(async () => {
    db = await billingDatabase();
    billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => clock });
    http = createHttpApp(memoryLogger());
    invoicingRoutes(http, { pool: db.pool, billing, prices, adminToken: ADMIN, log: memoryLogger() });
    await http.ready();
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('reversing half of a part-used grant lowers the balance by it; the invoice keeps what it used, other lots are untouched, and more than is left is 422 naming amount', async () => {
    await accountWith('acct-half', [
      { id: 'half-a', amount: '10.00' },
      { id: 'half-b', amount: '20.00' },
    ]);
    clock = DateTime.fromISO('2026-11-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-10');
    // half-a (older, both never expire) paid October's 7.00: 3.00 of it is left.
    assert.deepEqual(await invoiceOf('acct-half', '2026-10'), { credit_applied: '7.00', total: '0.00' });
    assert.deepEqual(await lots('acct-half'), { 'half-a': '3.00', 'half-b': '20.00' });
    assert.equal(await balance('acct-half'), '23.00');

    const tooMuch = await reverse('acct-half', 'half-a', { amount: '3.01', reason: 'typo' });
    assert.equal(tooMuch.statusCode, 422, tooMuch.body);
    assert.deepEqual(
      tooMuch.json().fields.map((f: { field: string }) => f.field),
      ['amount'],
    );
    assert.match(tooMuch.json().error, /must be at most 3\.00, what is left of credit half-a: granted 10\.00 USD, 7\.00 of it applied/);
    // The whole grant, as if the invoice had not used it: refused too.
    assert.equal((await reverse('acct-half', 'half-a', { amount: '10.00', reason: 'typo' })).statusCode, 422);
    assert.equal(await balance('acct-half'), '23.00', 'nothing refused was recorded');

    const half = await reverse('acct-half', 'half-a', { amount: '1.50', reason: 'granted 10.00 for 8.50' });
    assert.equal(half.statusCode, 201, half.body);
    assert.deepEqual(
      { ...(half.json() as object), reversed_at: undefined },
      {
        credit_id: 'half-a',
        account_id: 'acct-half',
        amount: '1.50',
        currency: 'USD',
        reason: 'granted 10.00 for 8.50',
        reversed_at: undefined,
        granted: '10.00',
      },
    );
    assert.equal(await balance('acct-half'), '21.50');
    assert.deepEqual(await lots('acct-half'), { 'half-a': '1.50', 'half-b': '20.00' });
    assert.deepEqual(await invoiceOf('acct-half', '2026-10'), { credit_applied: '7.00', total: '0.00' }, 'the invoice keeps what it used');

    // All that is left of the other grant: it ends at zero, never below.
    const rest = await reverse('acct-half', 'half-b', { reason: 'wrong account' });
    assert.equal(rest.statusCode, 201, rest.body);
    assert.equal(rest.json().amount, '20.00');
    assert.deepEqual(await lots('acct-half'), { 'half-a': '1.50', 'half-b': '0.00' });
    assert.equal(await balance('acct-half'), '1.50');
    assert.deepEqual(await reversals('acct-half'), ['-1.50 granted 10.00 for 8.50', '-20.00 wrong account']);
  });

  test('reversing twice reverses once: 201 then 200 with the same reversal; another amount or reason is 409; nothing is left to reverse of a used-up grant (422)', async () => {
    await accountWith('acct-twice', [{ id: 'twice-a', amount: '5.00' }]);
    const body = { amount: '2.00', reason: 'made twice' };
    const first = await reverse('acct-twice', 'twice-a', body);
    assert.equal(first.statusCode, 201, first.body);
    const again = await reverse('acct-twice', 'twice-a', body);
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(again.json(), first.json());
    // The same amount written another way is the same reversal.
    assert.equal((await reverse('acct-twice', 'twice-a', { ...body, amount: '02.00' })).statusCode, 200);
    const other = await reverse('acct-twice', 'twice-a', { ...body, amount: '1.00' });
    assert.equal(other.statusCode, 409, other.body);
    assert.match(
      other.json().error,
      /already reversed with another amount \(2\.00 USD taken back\); a grant is reversed once; nothing changed/,
    );
    assert.equal((await reverse('acct-twice', 'twice-a', { ...body, reason: 'another' })).statusCode, 409);
    assert.equal(await balance('acct-twice'), '3.00');
    assert.deepEqual(await reversals('acct-twice'), ['-2.00 made twice']);

    // A grant the invoices used up: nothing to reverse.
    await grant('acct-twice', { id: 'twice-b', amount: '1.00', reason: 'goodwill' });
    clock = DateTime.fromISO('2026-11-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-10');
    assert.deepEqual(await lots('acct-twice'), { 'twice-a': '0.00', 'twice-b': '0.00' });
    const empty = await reverse('acct-twice', 'twice-b', { reason: 'too late' });
    assert.equal(empty.statusCode, 422, empty.body);
    assert.equal(empty.json().fields[0].field, 'amount');
    assert.match(empty.json().error, /nothing is left of credit twice-b to reverse: granted 1\.00 USD, 1\.00 of it applied/);
  });

  test('only the admin reverses; an unknown grant, or another account’s, is 404; a bad body is 400 naming the field', async () => {
    await accountWith('acct-who', [{ id: 'who-a', amount: '4.00' }]);
    const own = await createToken(db.pool, { kind: 'account', accountId: 'acct-who' });
    const finance = await createToken(db.pool, { kind: 'finance' });
    assert.equal((await reverse('acct-who', 'who-a', { reason: 'r' }, own)).statusCode, 403);
    assert.equal((await reverse('acct-who', 'who-a', { reason: 'r' }, finance)).statusCode, 403);
    const none = await reverse('acct-who', 'no-such-grant', { reason: 'r' });
    assert.equal(none.statusCode, 404, none.body);
    assert.equal(none.json().fields[0].field, 'credit_id');
    assert.equal((await reverse('acct-half', 'who-a', { reason: 'r' })).statusCode, 404, 'another account’s grant');
    for (const [body, field] of [
      [{}, 'reason'],
      [{ reason: 'r', amount: '1' }, 'amount'],
      [{ reason: 'r', amount: '0.00' }, 'amount'],
      [{ reason: 'r', extra: true }, 'extra'],
    ] as const) {
      const res = await reverse('acct-who', 'who-a', body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.ok(
        res.json().fields.some((f: { field: string }) => f.field === field),
        res.body,
      );
    }
    assert.equal(await balance('acct-who'), '4.00');
  });

  test('a finalize and a reversal at the same time never draw a lot below zero: the reversal waits for the run and is refused what the invoice used', async () => {
    await accountWith('acct-race', [{ id: 'race-a', amount: '10.00' }]);
    clock = DateTime.fromISO('2026-11-05T00:00:00Z', { zone: 'utc' });
    // Held until the run has read the lots (10.00 left): its invoices' insert waits for this lock.
    const blocker = await db.pool.connect();
    try {
      await blocker.query('begin');
      await blocker.query('lock table invoicing.invoices in share mode');
      const { rows } = await blocker.query<{ pid: number }>('select pg_backend_pid() as pid');
      const blockerPid = rows[0]!.pid;
      const finalized = billing.finalize('2026-10');
      await until(async () => {
        const waiting = await db.pool.query<{ n: number }>(
          'select count(*)::int as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))',
          [blockerPid],
        );
        return waiting.rows[0]!.n > 0;
      }, 'the finalize run waits to insert its invoices, its lots read');
      let answered = false;
      const reversed = reverse('acct-race', 'race-a', { amount: '5.00', reason: 'typo' }).finally(() => {
        answered = true;
      });
      // Either it answered (it did not wait for the run) or it waits for the ledger's lock.
      await until(async () => {
        if (answered) return true;
        const locks = await db.pool.query<{ n: number }>(
          `select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`,
        );
        return locks.rows[0]!.n > 0;
      }, 'the reversal answered or waits');
      await blocker.query('commit');
      await finalized;
      const res = await reversed;
      assert.deepEqual(await invoiceOf('acct-race', '2026-10'), { credit_applied: '7.00', total: '0.00' });
      assert.deepEqual(await lots('acct-race'), { 'race-a': '3.00' }, 'the lot is never drawn below zero');
      assert.equal(res.statusCode, 422, res.body);
      assert.match(res.json().error, /must be at most 3\.00/);
    } finally {
      await blocker.query('rollback').catch(() => {});
      blocker.release();
    }
    // A reversal before the run: the invoice uses only what is left.
    await accountWith('acct-race-2', [{ id: 'race-b', amount: '10.00' }]);
    assert.equal((await reverse('acct-race-2', 'race-b', { amount: '5.00', reason: 'typo' })).statusCode, 201);
    clock = DateTime.fromISO('2026-11-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-10');
    assert.deepEqual(await invoiceOf('acct-race-2', '2026-10'), { credit_applied: '5.00', total: '2.00' });
    assert.deepEqual(await lots('acct-race-2'), { 'race-b': '0.00' });
  });

  test("a reversal that cannot get the ledger's lock in time (a finalize run holds it) is 503 with Retry-After, nothing reversed; the CLI's waits, told once", async () => {
    await accountWith('acct-busy', [{ id: 'busy-a', amount: '4.00' }]);
    // As a finalize run holds it for its whole run.
    const run = await db.pool.connect();
    try {
      await run.query('select pg_advisory_lock($1)', [FINALIZE_LOCK]);
      const busy = await reverse('acct-busy', 'busy-a', { reason: 'typo' });
      assert.equal(busy.statusCode, 503, busy.body);
      assert.equal(busy.headers['retry-after'], '30');
      assert.match(busy.json().error, /a finalize run is applying credit .*nothing reversed: try again once it ends/);
      assert.deepEqual(await reversals('acct-busy'), []);
      // Waiting as long as it takes (the CLI): told once, done once the run lets go.
      let told = 0;
      const waited = billing.reverseCredit('acct-busy', 'busy-a', { reason: 'typo' }, { onWait: () => told++ });
      await until(async () => told > 0, 'the reversal says it waits');
      await run.query('select pg_advisory_unlock($1)', [FINALIZE_LOCK]);
      assert.equal((await waited).outcome, 'created');
      assert.equal(told, 1);
      assert.deepEqual(await reversals('acct-busy'), ['-4.00 typo']);
    } finally {
      run.release();
    }
  });

  test('a grant to an account invoicing has never seen is 422 naming account, and its id stays free; "new_account": true grants it; an account with an app, an invoice or a credit is known', async () => {
    const body = { id: 'typo-grant', amount: '15.00', reason: 'outage' };
    const typo = await grant('acct-typo-22', body);
    assert.equal(typo.statusCode, 422, typo.body);
    assert.deepEqual(
      typo.json().fields.map((f: { field: string }) => f.field),
      ['account'],
    );
    assert.match(typo.json().error, /^account: acct-typo-22 is not an account invoicing knows .*"new_account": true/);
    assert.equal(await balance('acct-typo-22'), '0.00');
    // The id was not used up: the right account takes it.
    await seedOwners(db.pool, [{ app: 'right-app', account: 'acct-right', from: '2026-09-01T00:00:00Z' }]);
    assert.equal((await grant('acct-right', body)).statusCode, 201);
    // Said to be new: granted, and from then on known (it has a credit).
    assert.equal((await grant('acct-brand-new', { ...body, id: 'welcome', new_account: true })).statusCode, 201);
    assert.equal((await grant('acct-brand-new', { ...body, id: 'welcome-2' })).statusCode, 201);
    assert.equal((await grant('acct-brand-new', { ...body, id: 'bad-flag', new_account: 'yes' })).statusCode, 400);
    assert.equal(await balance('acct-brand-new'), '30.00');
  });
});

/** Polls `check` until true; fails naming `what` after 10 s. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

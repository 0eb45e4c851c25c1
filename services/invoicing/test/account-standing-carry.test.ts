// GET /v1/accounts/:account_id agrees with the standing review (standing.ts): a past-due invoice
// the next finalize carries (`carryable`: above 0, below the gateway's minimum, never charged) is
// not past due. It was listed under `past_due` beside the invoices that suspend the account, while
// the review ignored it; now it is under `to_carry`, with the finalized small invoices the next
// finalize carries too. One below the minimum but charged (a PaymentIntent: finalize never carries
// it) is still past due. Real PostgreSQL, the route as the app mounts it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import type { PriceBook } from '@vault/contracts';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { accountRoutes } from '../src/accounts/routes.ts';
import { reviewStandings } from '../src/accounts/standing.ts';
import { minimumChargeAmount } from '../src/charging/amount.ts';
import { billingDatabase } from './seed.ts';

const ACCOUNT = 'acct-carry';

describe('GET /v1/accounts/:account_id lists an invoice the next finalize carries apart from those past due (real PostgreSQL)', () => {
  let db: TestDatabase;
  let http: FastifyInstance;

  before(async () => {
    db = await billingDatabase();
    http = Fastify();
    // USD: Stripe's minimum 0.50.
    accountRoutes(http, { pool: db.pool, log: memoryLogger(), prices: { currency: 'USD', products: {} } as unknown as PriceBook });
    await http.ready();
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  // One invoice a month: C-0001 is 2026-01's, C-0002 2026-02's…
  async function invoice(
    id: string,
    number: string,
    total: string,
    status: string,
    charge?: { pastDueAt: string; paymentIntent?: string },
  ) {
    const period = `2026-${number.slice(-2)}`;
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, status)
       values ($1, $2, $6, ($6 || '-01')::date, ($6 || '-01')::date + interval '1 month', $3, 'USD', $4, $5)`,
      [id, ACCOUNT, number, total, status, period],
    );
    if (charge) {
      await db.pool.query(
        `insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts, past_due_at, last_error_code)
         values ($1, $2, 'past_due', 3, $3, $4)`,
        [id, charge.paymentIntent ?? null, charge.pastDueAt, charge.paymentIntent ? 'card_declined' : 'no_card_on_file'],
      );
    }
  }

  test('past_due holds what suspends the account; to_carry the small invoices never charged; the review agrees', async () => {
    // Past due for want of a card, 40.00: owed, suspends.
    await invoice('inv-big', 'C-0001', '40.00', 'past_due', { pastDueAt: '2026-11-10T00:00:00Z' });
    // Past due at 0.30 (an older release, or a minimum raised since), never charged: the next finalize carries it.
    await invoice('inv-small', 'C-0002', '0.30', 'past_due', { pastDueAt: '2026-11-05T00:00:00Z' });
    // 0.40 charged and declined before the minimum was raised: its PaymentIntent may still be paid, never carried.
    await invoice('inv-charged', 'C-0003', '0.40', 'past_due', { pastDueAt: '2026-11-08T00:00:00Z', paymentIntent: 'pi_carry_test' });
    // A finalized 0.20, below the minimum: never charged, carried by the next finalize.
    await invoice('inv-fin', 'C-0004', '0.20', 'finalized');
    // Paid and carried ones are owed by nobody.
    await invoice('inv-paid', 'C-0005', '0.10', 'paid');
    await invoice('inv-carried', 'C-0006', '0.15', 'carried');

    const res = await http.inject({ method: 'GET', url: `/v1/accounts/${ACCOUNT}` });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.past_due, [
      { invoice_id: 'inv-charged', number: 'C-0003', total: '0.40', since: '2026-11-08T00:00:00.000Z' },
      { invoice_id: 'inv-big', number: 'C-0001', total: '40.00', since: '2026-11-10T00:00:00.000Z' },
    ]);
    assert.deepEqual(body.to_carry, [
      { invoice_id: 'inv-small', number: 'C-0002', total: '0.30', since: '2026-11-05T00:00:00.000Z' },
      { invoice_id: 'inv-fin', number: 'C-0004', total: '0.20', since: null },
    ]);

    // The review, a month on, suspends over the past-due ones only: the very ones the answer lists.
    await reviewStandings({
      pool: db.pool,
      log: memoryLogger(),
      suspendAfterSeconds: 7 * 24 * 3600,
      minimum: minimumChargeAmount('USD'),
      now: () => new Date('2026-12-10T00:00:00Z'),
    });
    const { rows } = await db.pool.query<{ data: { invoice_ids: string[] } }>(
      `select event->'data' as data from invoicing.notices where type = 'account.suspended' and account_id = $1`,
      [ACCOUNT],
    );
    assert.deepEqual(
      rows.map((r) => [...r.data.invoice_ids].sort()),
      [body.past_due.map((p: { invoice_id: string }) => p.invoice_id).sort()],
    );
    assert.equal((await http.inject({ method: 'GET', url: `/v1/accounts/${ACCOUNT}` })).json().standing, 'suspended');
  });

  test('an account whose only past-due invoice is carried next: nothing past due, and the review leaves it active', async () => {
    const account = 'acct-only-small';
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, status)
       values ('inv-only', $1, '2026-10', '2026-10-01', '2026-11-01', 'D-0001', 'USD', '0.25', 'past_due')`,
      [account],
    );
    await db.pool.query(
      `insert into invoicing.charges (invoice_id, state, attempts, past_due_at, last_error_code)
       values ('inv-only', 'past_due', 1, '2026-11-01T00:00:00Z', 'amount_too_small')`,
    );
    await reviewStandings({
      pool: db.pool,
      log: memoryLogger(),
      suspendAfterSeconds: 7 * 24 * 3600,
      minimum: minimumChargeAmount('USD'),
      now: () => new Date('2026-12-10T00:00:00Z'),
    });
    const body = (await http.inject({ method: 'GET', url: `/v1/accounts/${account}` })).json();
    assert.deepEqual(body.past_due, []);
    assert.deepEqual(body.to_carry, [{ invoice_id: 'inv-only', number: 'D-0001', total: '0.25', since: '2026-11-01T00:00:00.000Z' }]);
    assert.equal(body.standing, 'active');
  });
});

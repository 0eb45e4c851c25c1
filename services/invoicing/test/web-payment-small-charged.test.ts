// A small invoice (below the gateway's minimum) is "added to your next invoice" on its page only when
// finalize carries it (credit-store.ts `carryable`: never charged). One charged before (a PaymentIntent,
// or an attempt sent and never answered: the minimum was raised since) is never carried nor charged
// again, yet its page said it would ride on the next invoice while GET /v1/accounts/:id and the
// standing review counted it past due. Now the page, the API and finalize's own read agree on every
// invoice. Real PostgreSQL, the pages and the API as the app mounts them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AccountStanding, Invoice } from '@vault/contracts';
import { smallInvoices } from '../src/billing/credit-store.ts';
import { minimumChargeAmount } from '../src/charging/amount.ts';
import { ACCOUNT_A, webClient, webWorld, type WebWorld } from './web-fixture.ts';

let world: WebWorld;
let invoice: Invoice;
before(async () => {
  // October's $52.58 less a credit of $52.18: $0.40, below USD's smallest charge ($0.50).
  world = await webWorld({ grants: [{ accountId: ACCOUNT_A, amount: '52.18' }] });
  invoice = (await world.billing.invoices(ACCOUNT_A))[0]!;
  assert.equal(invoice.total, '0.40');
});
after(async () => {
  await world?.close();
});
const { api, get, signIn } = webClient(() => world);

/** The invoice's status and charge row (none: `row` undefined), as charging leaves them. */
async function chargeState(status: string, row?: Record<string, unknown>): Promise<void> {
  const pool = world.db.pool;
  await pool.query('delete from invoicing.charges where invoice_id = $1', [invoice.id]);
  if (row) {
    const columns = Object.keys(row);
    await pool.query(
      `insert into invoicing.charges (invoice_id, ${columns.join(', ')}) values ($1, ${columns.map((_, i) => `$${i + 2}`).join(', ')})`,
      [invoice.id, ...Object.values(row)],
    );
  }
  await pool.query('update invoicing.invoices set status = $2 where id = $1', [invoice.id, status]);
}

/** What the page, the API and finalize say of the invoice. */
async function said(session: string) {
  const page = (await get(`/invoices/${invoice.id}`, session)).body;
  const section = /<section class="card payment[^"]*"[^>]*data-payment="([^"]+)">([\s\S]*?)<\/section>/.exec(page);
  assert.ok(section, 'the page has a payment section');
  const account = await api<AccountStanding>(`/v1/accounts/${ACCOUNT_A}`, world.adminToken);
  const carried = await smallInvoices(world.db.pool, [ACCOUNT_A], minimumChargeAmount('USD'));
  const list = (await get('/invoices', session)).body;
  return {
    kind: section[1]!,
    text: section[2]!
      .replace(/<[^>]+>/g, '')
      .replace(/\s+/g, ' ')
      .trim(),
    label: /<div class="total"><span>([^<]+)<\/span>/.exec(page)?.[1],
    pastDue: account.past_due.map((p) => p.invoice_id),
    toCarry: account.to_carry.map((p) => p.invoice_id),
    finalizeCarries: (carried.get(ACCOUNT_A) ?? []).map((s) => s.number),
    attention: /<p class="attention" role="note">([\s\S]*?)<\/p>/.exec(list)?.[1]?.replace(/<[^>]+>/g, ''),
  };
}

describe('a small invoice is "added to your next invoice" only when finalize carries it (real PostgreSQL)', () => {
  let session: string;
  before(async () => {
    session = await signIn(ACCOUNT_A);
  });

  test('never charged (finalized, or past due from an older release): the page, to_carry and finalize all carry it', async () => {
    for (const [status, row] of [
      ['finalized', undefined],
      ['past_due', { state: 'past_due', attempts: 1, past_due_at: new Date('2026-11-05T00:00:00Z'), last_error_code: 'amount_too_small' }],
    ] as const) {
      await chargeState(status, row);
      const s = await said(session);
      assert.equal(s.kind, 'none', status);
      assert.equal(
        s.text,
        'Payment Not charged: $0.40 is below the smallest amount we can charge to a card. It will be added to your next invoice.',
      );
      assert.equal(s.label, 'Carried to your next invoice');
      assert.deepEqual([s.toCarry, s.pastDue, s.finalizeCarries], [[invoice.id], [], [invoice.number]], status);
    }
  });

  test('past due, charged and declined before the minimum was raised: past due on the page as in the API, never "added to your next invoice" nor "we charge a new card"', async () => {
    await chargeState('past_due', {
      state: 'past_due',
      attempts: 3,
      payment_intent_id: 'pi_small_declined',
      last_payment_method_id: 'pm_old',
      last_error_code: 'card_declined',
      last_error_message: 'Your card was declined.',
      past_due_at: new Date('2026-11-08T00:00:00Z'),
    });
    const s = await said(session);
    assert.equal(s.kind, 'not_chargeable');
    assert.equal(
      s.text,
      'Payment Past due since Nov 8, 2026: not charged: $0.40 is below the smallest amount we can charge to a card, so we will not charge it again. ' +
        'A payment of it was begun before, so it is not added to your next invoice either. Please ask your platform support to settle this invoice.',
    );
    assert.doesNotMatch(s.text, /will be added|as soon as it is saved|try again/);
    assert.equal(s.label, 'Amount due');
    assert.deepEqual([s.pastDue, s.toCarry, s.finalizeCarries], [[invoice.id], [], []]);
    assert.equal(s.attention, 'An invoice cannot be charged to a card: open the invoice to see how to settle it.');
  });

  test('finalized, declined once before the minimum was raised (or an attempt never answered): no retry date, not carried, in no list of the API', async () => {
    const declined = {
      state: 'scheduled',
      attempts: 1,
      round_start: 0,
      payment_intent_id: 'pi_small_retry',
      last_payment_method_id: 'pm_old',
      last_error_code: 'card_declined',
      last_error_message: 'Your card was declined.',
      next_attempt_at: new Date('2026-11-25T00:00:00Z'),
    };
    // An attempt sent, its answer never come: the gateway may have made a PaymentIntent.
    const unanswered = {
      state: 'scheduled',
      attempts: 0,
      pending_payment_method_id: 'pm_old',
      next_attempt_at: new Date('2026-11-02T00:00:00Z'),
    };
    for (const row of [declined, unanswered]) {
      await chargeState('finalized', row);
      const s = await said(session);
      assert.equal(s.kind, 'not_chargeable', JSON.stringify(row));
      assert.match(
        s.text,
        /^Payment Not charged: \$0\.40 is below the smallest amount we can charge to a card, so we will not charge it again\./,
      );
      assert.doesNotMatch(s.text, /will be added|try again/);
      assert.equal(s.label, 'Amount due');
      assert.deepEqual([s.pastDue, s.toCarry, s.finalizeCarries], [[], [], []]);
    }
  });

  test('its PaymentIntent waiting for the cardholder: still theirs to authenticate and pay, past due in the API', async () => {
    await chargeState('past_due', {
      state: 'action_required',
      attempts: 1,
      payment_intent_id: 'pi_small_3ds',
      last_payment_method_id: 'pm_old',
      action_required_at: new Date('2026-11-03T00:00:00Z'),
      past_due_at: new Date('2026-11-08T00:00:00Z'),
    });
    const s = await said(session);
    assert.equal(s.kind, 'action_required');
    assert.match(s.text, /Authenticate and pay \$0\.40/);
    assert.deepEqual([s.pastDue, s.toCarry, s.finalizeCarries], [[invoice.id], [], []]);
  });
});

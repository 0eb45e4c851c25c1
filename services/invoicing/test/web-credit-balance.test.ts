// The invoice list's credit balance says what the balance will pay: credit that
// expires before the current month's invoice is issued (its end plus
// INVOICE_GRACE_HOURS, when the draft settles its credit) is said to pay none
// of it, with the day it expires; the rest pays the next invoices first (from
// that month's on: web-credit-balance-grace.test.ts for the grace period), with
// its expiry day when it has one. The balance API stays as it was.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Invoice } from '@vault/contracts';
import { DateTime } from 'luxon';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { ACCOUNT_A, webClient, webWorld, type WebWorld } from './web-fixture.ts';

let world: WebWorld;
before(async () => {
  world = await webWorld();
});
after(async () => {
  await world?.close();
});
const { get, signIn, api } = webClient(() => world);

/** The invoice list's balance paragraph, as text. */
async function balanceText(): Promise<string> {
  const list = (await get('/invoices', await signIn(ACCOUNT_A))).body;
  const p = /<p class="balance">([\s\S]*?)<\/p>/.exec(list)?.[1] ?? '';
  return p
    .replace(/<[^>]+>/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

describe('the credit balance on the invoice list (viewed Nov 20; November is due Dec 4)', () => {
  test('a grant expiring Nov 25 is said to expire then and not to pay the November invoice, which indeed applies none of it', async () => {
    await world.billing.grantCredit(ACCOUNT_A, { id: 'g-nov25', amount: '10.00', reason: 'promo', expires_at: '2026-11-25T00:00:00Z' });
    const text = await balanceText();
    assert.equal(
      text,
      'Your credit balance: $10.00 It expires on Nov 25, 2026, before your November 2026 invoice is issued, so it will not pay that invoice.',
    );
    assert.doesNotMatch(text, /pays your next invoices/);
    const draft = await api<Invoice>(`/v1/accounts/${ACCOUNT_A}/usage`, world.adminToken);
    assert.notEqual(draft.subtotal, '0.00');
    assert.equal(draft.credit_applied, '0.00', 'the draft, settled at the due time, uses none of it');
    // The API's balance is as it was: what the account holds now.
    assert.deepEqual(await api(`/v1/accounts/${ACCOUNT_A}/balance`, world.adminToken), {
      account_id: ACCOUNT_A,
      currency: 'USD',
      credit: '10.00',
    });
  });

  test('with credit that lasts: what expires first, then the rest that pays the next invoices, with its own expiry day', async () => {
    // A lot expired on Nov 19, not written off yet (no finalize since): not in the balance, never named.
    const earlier = createBilling({
      pool: world.db.pool,
      prices: loadPriceBook(),
      graceHours: 72,
      now: () => DateTime.fromISO('2026-11-01T00:00:00Z', { zone: 'utc' }),
    });
    await earlier.grantCredit(ACCOUNT_A, { id: 'g-nov19', amount: '4.00', reason: 'promo', expires_at: '2026-11-19T00:00:00Z' });
    await world.billing.grantCredit(ACCOUNT_A, { id: 'g-jan31', amount: '5.00', reason: 'promo', expires_at: '2027-01-31T00:00:00Z' });
    await world.billing.grantCredit(ACCOUNT_A, { id: 'g-open', amount: '2.00', reason: 'goodwill' });
    assert.equal(
      await balanceText(),
      'Your credit balance: $17.00 $10.00 of it expires on Nov 25, 2026, before your November 2026 invoice is issued, so it will not pay that invoice. ' +
        'The other $7.00 pays your next invoices first, starting with your November 2026 invoice ($5.00 of it expires on Jan 31, 2027).',
    );
    const draft = await api<Invoice>(`/v1/accounts/${ACCOUNT_A}/usage`, world.adminToken);
    assert.equal(draft.credit_applied, '7.00', 'the draft uses the credit said to pay it');
  });
});

// The account.suspended email in words (pure), from the notice's `remedies`: it
// said "add a card on the card form and it is charged at once" to every
// suspended customer, also when a card does not settle what keeps the account
// suspended (a small invoice charged before the minimum was raised: an operator
// settles it) or the card on file is blocked (another card is needed).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emailFor } from '../src/email/messages.ts';
import { accountNotice } from '../src/notices/notice.ts';

const ctx = { invoicingUrl: 'https://billing.example.test' };
const suspended = (remedies?: unknown) => {
  const data = { invoice_ids: ['inv-1'], past_due_since: '2026-11-12T00:00:00Z', ...(remedies === undefined ? {} : { remedies }) };
  const email = emailFor(accountNotice('account.suspended', 'acct-1', 1, new Date('2026-11-20T00:00:00Z'), data).event, ctx);
  assert.ok(email, 'account.suspended is emailed');
  return email;
};
const group = (remedy: string, ...numbers: string[]) => ({ remedy, invoice_ids: numbers.map((n) => `inv-${n}`), numbers });

describe('the account suspended email', () => {
  test('past due for want of a card (or declined): add a card, it is charged at once', () => {
    const { subject, text } = suspended([group('add_card', '2026-10-000007')]);
    assert.equal(subject, 'Your account acct-1 is suspended');
    assert.match(text, /Your account acct-1 is suspended: an invoice has been past due since 12 November 2026\./);
    assert.match(text, /It is reinstated as soon as nothing it owes is past due\./);
    assert.match(text, /For invoice 2026-10-000007, add a card on the card form \(linked from your invoices\): it is charged at once\./);
  });

  test('a not_chargeable invoice: an operator settles it; no card is said to settle it, nor that it is carried', () => {
    const { text } = suspended([group('operator_settles', '2026-09-000003')]);
    assert.match(
      text,
      /Invoice 2026-09-000003 is below the smallest amount we can charge to a card, and a payment of it was begun before:/,
    );
    assert.match(text, /we will not charge it again, and it is not added to your next invoice\. A card does not settle it:/);
    assert.match(text, /please ask your platform support to settle it\./);
    assert.doesNotMatch(text, /charged at once|add a card/i);
  });

  test('the card on file blocked (card_reported_fraudulent, card_blocked_elsewhere): add another card', () => {
    const { text } = suspended([group('add_another_card', '2026-10-000007')]);
    assert.match(text, /For invoice 2026-10-000007, the card on file cannot be used for payments here and will not be charged again\./);
    assert.match(text, /Add another card on the card form \(linked from your invoices\): it is charged at once\./);
    assert.doesNotMatch(text, /add a card/);
  });

  test('a payment waiting for the cardholder (3-D Secure): authenticate, or another card', () => {
    const { text } = suspended([group('authenticate', '2026-10-000007')]);
    assert.match(
      text,
      /your bank asks you to confirm the payment \(3-D Secure\): sign in, open the invoice and choose to authenticate and pay\./,
    );
  });

  test('several: each remedy with its invoices, a card first and the operator’s last', () => {
    const { text } = suspended([
      group('add_card', '2026-10-000007', '2026-11-000002'),
      group('operator_settles', '2026-08-000001', '2026-09-000003'),
    ]);
    assert.match(text, /For invoices 2026-10-000007 and 2026-11-000002, add a card on the card form/);
    assert.match(text, /Invoices 2026-08-000001 and 2026-09-000003 are below the smallest amount .* a payment of them was begun before:/);
    assert.match(text, /please ask your platform support to settle them\./);
    assert.ok(text.indexOf('add a card') < text.indexOf('platform support to settle'));
  });

  test('a notice without remedies (recorded by an older release): the invoice pages, never a promise a card settles it', () => {
    const { text } = suspended();
    assert.match(
      text,
      /It is reinstated as soon as nothing it owes is past due: sign in and open your invoices, each past-due one says how it can be settled\./,
    );
    assert.doesNotMatch(text, /charged at once/);
  });
});

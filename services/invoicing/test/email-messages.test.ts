// The customer's emails in words (pure): a card's own decline is quoted as the
// bank's answer; the gateway's other refusals (a missing customer, an amount it
// will not take) are never called a decline, and their words never reach the email.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emailFor } from '../src/email/messages.ts';
import { invoiceNotice } from '../src/notices/notice.ts';

const invoice = {
  id: 'inv-1',
  accountId: 'acct-1',
  number: '2026-10-000007',
  period: '2026-10',
  currency: 'USD',
  total: '52.58',
  status: 'finalized',
};
const at = new Date('2026-11-04T00:00:00Z');
const ctx = { invoicingUrl: 'https://billing.example.test' };
const email = (type: 'invoice.payment_failed' | 'invoice.past_due', extra: Record<string, unknown>) => {
  const text = emailFor(invoiceNotice(type, invoice, at, extra, 1).event, ctx);
  assert.ok(text, `${type} is emailed`);
  return text;
};

describe('the emails about a failed charge', () => {
  test("a card's decline quotes the bank's words and says when we try again", () => {
    const { subject, text } = email('invoice.payment_failed', {
      code: 'card_declined',
      reason: 'Your card has insufficient funds.',
      next_attempt_at: '2026-11-07T00:00:00Z',
    });
    assert.match(subject, /We could not charge your card for invoice 2026-10-000007/);
    assert.match(text, /Your bank said: Your card has insufficient funds\./);
    assert.match(text, /We will try again on 7 November 2026/);
  });

  test('declined after the cardholder confirmed it (3-D Secure, the invoice still waiting for them): it says how to try again', () => {
    const text = emailFor(
      invoiceNotice(
        'invoice.payment_failed',
        { ...invoice, status: 'action_required' },
        at,
        { code: 'card_declined', reason: 'Your card has insufficient funds.', next_attempt_at: null },
        1,
      ).event,
      ctx,
    )!.text;
    assert.match(text, /Your bank said: Your card has insufficient funds\./);
    assert.match(text, /Sign in and open the invoice to try the payment again, or put another card on the card form/);
    assert.doesNotMatch(text, /We will try again/);
  });

  test("declined with no retry left on a past-due invoice (the bank refused the cardholder's own try, or the last scheduled one): it says where to go next", () => {
    const text = emailFor(
      invoiceNotice(
        'invoice.payment_failed',
        { ...invoice, status: 'past_due' },
        at,
        { code: 'card_declined', reason: 'Your card has insufficient funds.', next_attempt_at: null },
        1,
      ).event,
      ctx,
    )!.text;
    assert.match(text, /Your bank said: Your card has insufficient funds\./);
    assert.match(text, /Sign in and open the invoice to see how it can be paid, or put another card on the card form/);
    assert.doesNotMatch(text, /We will try again/);
  });

  test("a refusal that is not the card's (the gateway's customer gone) keeps the gateway's words out of the email", () => {
    const { text } = email('invoice.payment_failed', {
      code: 'resource_missing',
      reason: "No such customer: 'cus_internal'",
      next_attempt_at: '2026-11-07T00:00:00Z',
    });
    assert.match(text, /Your card was not charged for invoice 2026-10-000007/);
    assert.doesNotMatch(text, /bank said|cus_internal|No such/);
  });

  test('past due: declined only when the card declined (one try after 3-D Secure, or every try of the schedule); otherwise we could not charge it', () => {
    assert.match(email('invoice.past_due', { reason: 'declined' }).text, /past due: your card was declined\./);
    const refused = email('invoice.past_due', { reason: 'refused', message: "No such customer: 'cus_internal'" }).text;
    assert.match(refused, /past due: we could not charge your card\./);
    assert.doesNotMatch(refused, /declined|cus_internal/);
    assert.match(email('invoice.past_due', { reason: 'no_card_on_file' }).text, /past due: your account has no card on file/);
    const unconfirmed = email('invoice.past_due', { reason: 'authentication_required' }).text;
    assert.match(unconfirmed, /your bank asked you to confirm the payment \(3-D Secure\), and it is not confirmed yet/);
    assert.match(unconfirmed, /choose to authenticate and pay/);
    assert.doesNotMatch(unconfirmed, /Add a card|could not charge/);
  });
});

describe('the invoice finalized email', () => {
  const finalized = (total: string, currency = 'USD') =>
    emailFor(invoiceNotice('invoice.finalized', { ...invoice, total, currency }, at, {}, 1).event, ctx)!.text;

  test('a total above 0.00 and below the gateway’s smallest charge is not said to be charged: it is added to the next invoice, as the invoice page says', () => {
    for (const [total, currency, minimum] of [
      ['0.30', 'USD', '\\$0\\.50'],
      ['0.49', 'USD', '\\$0\\.50'],
      ['0.01', 'EUR', '0\\.50 EUR'],
      ['0.29', 'GBP', '0\\.30 GBP'],
    ] as const) {
      const text = finalized(total, currency);
      assert.doesNotMatch(text, /charged to your card/, `${total} ${currency}`);
      assert.match(text, new RegExp(`below the smallest charge we can make to a card \\(${minimum}\\)`), `${total} ${currency}`);
      assert.match(text, /It is not charged: it will be added to your next invoice\./, `${total} ${currency}`);
    }
  });

  test('a total at or above the smallest charge is charged to the card on file, and an account without one is told to add one; 0.00 has nothing to pay', () => {
    for (const [total, currency] of [
      ['0.50', 'USD'],
      ['52.58', 'USD'],
      ['0.30', 'GBP'],
    ] as const) {
      const text = finalized(total, currency);
      assert.match(text, /We charge it to your account's card on file shortly\./, `${total} ${currency}`);
      // The notice does not say whether a card is on file: the email must not promise a charge to one.
      assert.doesNotMatch(text, /It is charged to your card/, `${total} ${currency}`);
      assert.match(
        text,
        /No card on file yet\? Add one on the card form \(linked from your invoices\): it is charged at once\./,
        `${total} ${currency}`,
      );
      assert.doesNotMatch(text, /next invoice/, `${total} ${currency}`);
    }
    const zero = finalized('0.00');
    assert.match(zero, /There is nothing to pay\./);
    assert.doesNotMatch(zero, /charged|next invoice/);
  });
});

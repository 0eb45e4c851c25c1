// The invoice and usage pages' words where R1 found them confusing: a decline
// quoting the gateway's "Your card was declined." after saying so, a partial
// refund dropping the payment's date, the chart's description blaming the cap
// for adjustments, and a "previous month" link from 0001-01 to a 400.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Invoice } from '@vault/contracts';
import { usageChart } from '../src/web/chart.ts';
import { paymentWords } from '../src/web/pages/payment.ts';
import { ACCOUNT_A, webClient, webWorld, type WebWorld } from './web-fixture.ts';

const invoice = {
  id: 'in_words',
  number: '2026-11-000007',
  account_id: 'acct-1',
  period: '2026-11',
  status: 'past_due',
  currency: 'USD',
  subtotal: '165.83',
  credit_applied: '0.00',
  total: '165.83',
  amount_refunded: '0.00',
  amount_disputed: '0.00',
  lines: [],
  holds: [],
} as unknown as Invoice;
const text = (h: { toString(): string }) =>
  h
    .toString()
    .replace(/<[^>]+>/g, '')
    .replace(/\s+/g, ' ')
    .trim();
const visa = { brand: 'visa', last4: '3184' };
const paidAt = new Date('2026-12-07T10:00:00Z');
const nextTryAt = new Date('2026-12-10T10:00:00Z');

describe('the payment section in words', () => {
  test('a generic decline is said once: "Your card was declined. We will try again…", not quoting the same words', () => {
    for (const reason of ['Your card was declined.', 'Your card was declined', ' your card was declined. ']) {
      const words = paymentWords(invoice, { kind: 'declined', reason, declineCode: 'generic_decline', nextTryAt, attempts: 1 });
      assert.equal(text(words).split('.')[0], 'Your card was declined', reason);
      assert.match(text(words), /^Your card was declined\. We will try again on Dec 10, 2026\./);
      assert.doesNotMatch(words.toString(), /data-reason/);
    }
    const declined = paymentWords(invoice, {
      kind: 'past_due',
      why: 'declined',
      reason: 'Your card was declined.',
      since: paidAt,
    } as Parameters<typeof paymentWords>[1]);
    assert.match(text(declined), /your card was declined each time we tried, and we will not try it again\./);
  });

  test('a decline with a reason of its own still quotes it', () => {
    const words = paymentWords(invoice, {
      kind: 'declined',
      reason: 'Your card has insufficient funds.',
      declineCode: 'insufficient_funds',
      nextTryAt,
      attempts: 1,
    });
    assert.match(words.toString(), /Your card was declined: <q data-reason>Your card has insufficient funds\.<\/q> We will try again/);
  });

  test('a partial refund keeps the date of the payment: "Paid on Dec 7, 2026 with Visa •••• 3184; $50.00 of $165.83 was refunded"', () => {
    const paid = { ...invoice, status: 'paid', amount_refunded: '50.00' } as Invoice;
    const words = paymentWords(paid, { kind: 'refunded', amount: '50.00', whole: false, at: paidAt, card: visa });
    assert.equal(text(words), 'Paid on Dec 7, 2026 with Visa •••• 3184; $50.00 of $165.83 was refunded to your card.');
  });
});

describe('the usage chart', () => {
  test("its description (what a screen reader hears) does not call the days' sum the total before the cap alone", () => {
    const chart = usageChart(
      [
        { day: '2026-12-01', amount: '200.00' },
        { day: '2026-12-02', amount: '68.08' },
      ],
      'USD',
      'December 2026',
      31,
    ).toString();
    const desc = /<desc id="usage-chart-desc">([^<]*)<\/desc>/.exec(chart)?.[1];
    assert.equal(
      desc,
      '2 days from 2026-12-01 to 2026-12-02; highest day $200.00; $268.08 in all, priced before the monthly cap, credits and adjustments.',
    );
  });
});

describe('the usage page of the first month there is', () => {
  let world: WebWorld;
  before(async () => {
    world = await webWorld();
  });
  after(async () => {
    await world?.close();
  });
  const { get, signIn } = webClient(() => world);

  test('/usage?period=0001-01 offers no "previous month" link (0000-12 is no month a page can show); 0001-02 links to 0001-01', async () => {
    const id = await signIn(ACCOUNT_A);
    const first = await get('/usage?period=0001-01', id);
    assert.equal(first.statusCode, 200);
    assert.doesNotMatch(first.body, /period=0000-12|←/);
    assert.match(first.body, /<p class="muted"><a href="\/usage">current month<\/a><\/p>/);
    const second = await get('/usage?period=0001-02', id);
    assert.match(
      second.body,
      /<p class="muted"><a href="\/usage\?period=0001-01">← January 0001<\/a> · <a href="\/usage">current month<\/a><\/p>/,
    );
    const current = await get('/usage', id);
    assert.match(current.body, /<p class="muted"><a href="\/usage\?period=2026-10">← October 2026<\/a><\/p>/);
  });
});

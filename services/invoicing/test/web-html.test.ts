// The invoice pages' html helpers: escaping, and money from decimal strings.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { escapeHtml, html } from '@vault/web';
import { money } from '../src/web/html.ts';
import { paymentState } from '../src/charging/payment-state.ts';
import { invoicePage } from '../src/web/pages/invoice.ts';
import { usagePage } from '../src/web/pages/usage.ts';
import type { WebWorld } from './web-fixture.ts';

let _world: WebWorld;

describe('html helpers', () => {
  test('every interpolated value is escaped; markup made by html is kept', () => {
    const name = `<script>alert("x")</script>&'`;
    assert.equal(html`<p title="${name}">${name}</p>`.toString(), `<p title="${escapeHtml(name)}">${escapeHtml(name)}</p>`);
    assert.equal(escapeHtml(name), '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    assert.equal(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>`.toString(), '<ul><li>a&lt;</li><li>b</li></ul>');
  });

  test('money is shown from decimal strings: $25.00, -$3.61 for a credit, thousands grouped, no price as a dash', () => {
    const cases: [string | null, string][] = [
      ['25.00', '$25.00'],
      ['0.00', '$0.00'],
      ['-3.61', '-$3.61'],
      ['1234567.05', '$1,234,567.05'],
      ['123.45', '$123.45'],
      [null, '—'],
    ];
    for (const [amount, shown] of cases) assert.equal(money(amount), shown);
    assert.equal(money('25.00', 'EUR'), 'EUR 25.00');
    assert.throws(() => money('25.5'), /not a money amount/);
  });

  test('a month whose credits exceed its charges says where the rest goes, not a bare $0.00', () => {
    const draft = {
      id: 'in_x',
      number: null,
      account_id: 'acct-1',
      period: '2026-11',
      status: 'draft' as const,
      currency: 'USD',
      subtotal: '-41.18',
      credit_applied: '0.00',
      total: '0.00',
      amount_refunded: '0.00',
      amount_disputed: '0.00',
      lines: [],
      holds: [],
    };
    const page = usagePage({
      viewer: { accountId: 'acct-1', csrf: 'c' },
      draft,
      days: [],
      previous: '2026-10',
      isCurrent: true,
      stops: new Map(),
    }).toString();
    assert.match(page, /So far this month: <strong data-total="0\.00">\$0\.00<\/strong>/);
    assert.match(page, /the credits exceed the charges: the rest, \$41\.18, goes to your credit balance/);
    assert.doesNotMatch(
      usagePage({
        viewer: { accountId: 'acct-1', csrf: 'c' },
        draft: { ...draft, subtotal: '3.00', total: '3.00' },
        days: [],
        previous: '2026-10',
        isCurrent: true,
        stops: new Map(),
      }).toString(),
      /credits exceed/,
    );
  });
});

describe('the total of an invoice below the smallest charge', () => {
  const small = {
    id: 'in_small',
    number: '2026-10-000001',
    account_id: 'acct-1',
    period: '2026-10',
    currency: 'USD',
    subtotal: '0.23',
    credit_applied: '0.00',
    total: '0.23',
    amount_refunded: '0.00',
    amount_disputed: '0.00',
    lines: [],
    holds: [],
  };
  const shown = (status: 'finalized' | 'carried') => {
    const invoice = { ...small, status };
    const page = invoicePage({
      viewer: { accountId: 'acct-1', csrf: 'c' },
      invoice,
      // Never charged: the next finalize carries it (`carryable`, as readPaymentStates reads it).
      payment: paymentState(invoice, undefined, true),
      stops: new Map(),
    });
    const body = page.toString();
    return { label: /<div class="total"><span>([^<]+)<\/span>/.exec(body)?.[1], body };
  };

  test('finalized and not carried yet ($0.23): "Carried to your next invoice", as its payment section says, not "Amount due"', () => {
    const { label, body } = shown('finalized');
    assert.match(
      body,
      /Not charged: \$0\.23 is below the smallest amount we can charge to a card\. It will be added to your next invoice\./,
    );
    assert.equal(label, 'Carried to your next invoice');
  });

  test('once carried by the next invoice: still "Carried to your next invoice"', () => {
    assert.equal(shown('carried').label, 'Carried to your next invoice');
  });
});

describe('chargebacks on the invoice page', () => {
  const paid = {
    id: 'in_disputed',
    number: '2026-10-000002',
    account_id: 'acct-1',
    period: '2026-10',
    status: 'paid' as const,
    currency: 'USD',
    subtotal: '25.00',
    credit_applied: '0.00',
    total: '25.00',
    amount_refunded: '0.00',
    amount_disputed: '25.00',
    lines: [],
    holds: [],
  };
  const page = (chargebacks?: { amount: string; reinstated: boolean }[]) =>
    invoicePage({
      viewer: { accountId: 'acct-1', csrf: 'c' },
      invoice: paid,
      payment: paymentState(paid, undefined),
      stops: new Map(),
      ...(chargebacks ? { chargebacks } : {}),
    }).toString();

  test("says a chargeback was withdrawn by the cardholder's bank, and reinstated if so; nothing without one", () => {
    assert.match(
      page([{ amount: '25.00', reinstated: false }]),
      /data-chargeback="25\.00" data-reinstated="false">A chargeback of \$25\.00 was withdrawn from this payment by the cardholder's bank\.</,
    );
    assert.match(
      page([{ amount: '25.00', reinstated: true }]),
      /A chargeback of \$25\.00 was withdrawn from this payment by the cardholder's bank, and reinstated: the bank gave it back after the dispute\./,
    );
    assert.doesNotMatch(page(), /chargeback/i);
  });
});

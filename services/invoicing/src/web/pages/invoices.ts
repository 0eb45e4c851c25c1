// The account's finalized invoices, newest first, with their payment state and
// the account's credit balance.
import type { CreditBalance } from '@vault/contracts';
import type { InvoiceSummary } from '../../billing/invoice-list.ts';
import { html, type Html } from '@vault/web';
import { layout, monthName, money, type Viewer } from '../html.ts';
import type { PaymentState } from '../../charging/payment-state.ts';
import type { CreditOutlook, Expiring } from '../credit-outlook.ts';
import { statusTag } from './lines.ts';
import { cardFormLinks, day } from './payment.ts';

export interface InvoiceListView {
  viewer: Viewer;
  invoices: readonly InvoiceSummary[];
  balance: CreditBalance;
  /** The balance as the invoice finalized next will see it, and when its credit expires (credit-outlook.ts). */
  outlook: CreditOutlook;
  payments: ReadonlyMap<string, PaymentState>;
}

/** A line above the list when an invoice needs the customer: a card to add, a payment to authenticate, one to settle. */
function needsYou(view: InvoiceListView): Html {
  const states = [...view.payments.values()];
  if (states.some((s) => s.kind === 'action_required' && s.declined === undefined)) {
    return html`<p class="attention" role="note">Your bank asks you to confirm a payment: open the invoice marked “action required”.</p>`;
  }
  // A payment the bank declined after its check is marked "declined" (paymentLabel), as a card's decline is.
  if (states.some((s) => s.kind === 'past_due' || s.kind === 'declined' || s.kind === 'action_required')) {
    return html`<p class="attention" role="note">A payment did not go through: <a href="${cardFormLinks.card}">check your payment card</a>.</p>`;
  }
  // Not the card's doing: another card would not be charged (payment.ts says why on the invoice).
  if (states.some((s) => s.kind === 'not_chargeable')) {
    return html`<p class="attention" role="note">An invoice cannot be charged to a card: open the invoice to see how to settle it.</p>`;
  }
  return html``;
}

/**
 * What the balance will pay, in words: the credit that expires before the invoice issued next
 * (outlook.period) is said to pay none of it, with its day; the rest pays the next invoices
 * first, from that one on, with the day it expires when it does.
 */
function balanceWords({ balance, outlook }: InvoiceListView): Html {
  if (balance.credit === '0.00') return html``;
  const c = balance.currency;
  // "$3.00 of it expires on Nov 25, 2026" (credit-outlook.ts).
  const list = (expiries: readonly Expiring[]) =>
    expiries.map(
      (e, i) =>
        html`${i === 0 ? '' : ', '}${e.amount === balance.credit ? 'It' : html`${money(e.amount, c)} of it`} expires on <time datetime="${e.expiresAt.toISOString()}">${day(e.expiresAt)}</time>`,
    );
  const expiring =
    outlook.expiring.length === 0
      ? html``
      : html`<span data-credit-expiring>${list(outlook.expiring)}, before your ${monthName(outlook.period)} invoice is issued, so it will not pay that invoice.</span> `;
  if (outlook.lasting === '0.00') return expiring;
  const lasting = outlook.expiring.length === 0 ? html`It` : html`The other ${money(outlook.lasting, c)}`;
  const later = outlook.lastingExpiries.length === 0 ? '' : html` (${list(outlook.lastingExpiries)})`;
  // Named: in the grace period the next invoice is last month's (next-invoice.ts), not this month's.
  const from = monthName(outlook.period);
  return html`${expiring}<span data-credit-lasting="${outlook.lasting}">${lasting} pays your next invoices first, starting with your ${from} invoice${later}.</span>`;
}

export function invoiceListPage(view: InvoiceListView): Html {
  const { invoices, balance } = view;
  const rows = invoices.map((inv) => {
    const state = view.payments.get(inv.id);
    return html`<tr>
<td><a href="/invoices/${encodeURIComponent(inv.id)}">${inv.number ?? 'draft'}</a></td>
<td data-label="Period">${monthName(inv.period)}</td>
<td data-label="Status">${statusTag(inv, state)}</td>
<td class="num" data-label="Total">${money(inv.total, inv.currency)}</td>
</tr>`;
  });
  const list =
    invoices.length === 0
      ? html`<p class="muted">No invoices yet. An invoice is issued after each month ends.</p>`
      : html`<table class="invoices" aria-label="Invoices">
<thead><tr><th>Invoice</th><th>Period</th><th>Status</th><th class="num">Total</th></tr></thead>
<tbody>${rows}</tbody>
</table>`;
  return layout(
    { title: 'Invoices', viewer: view.viewer, current: 'invoices' },
    html`<h1>Invoices</h1>
${needsYou(view)}
<p>This month's charges so far: <a href="/usage">see current usage</a>. Your payment card: <a href="${cardFormLinks.card}">manage it on the card form</a>.</p>
<p class="balance">Your credit balance: <strong data-credit="${balance.credit}">${money(balance.credit, balance.currency)}</strong>
<span class="muted">${balanceWords(view)}</span></p>
<section class="card">${list}</section>`,
  );
}

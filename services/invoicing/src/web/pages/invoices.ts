// The account's finalized invoices, newest first, with their payment state and
// the account's credit balance.
import type { CreditBalance, Invoice } from '@vault/contracts';
import { html, type Html } from '@vault/web';
import { layout, monthName, money, type Viewer } from '../html.ts';
import type { PaymentState } from '../../charging/payment-state.ts';
import { statusTag } from './lines.ts';
import { cardFormLinks } from './payment.ts';

export interface InvoiceListView {
  viewer: Viewer;
  invoices: readonly Invoice[];
  balance: CreditBalance;
  payments: ReadonlyMap<string, PaymentState>;
}

/** A line above the list when an invoice needs the customer: a card to add, a payment to authenticate. */
function needsYou(view: InvoiceListView): Html {
  const states = [...view.payments.values()];
  if (states.some((s) => s.kind === 'action_required' && s.declined === undefined)) {
    return html`<p class="attention" role="note">Your bank asks you to confirm a payment: open the invoice marked “action required”.</p>`;
  }
  // A payment the bank declined after its check is marked "declined" (paymentLabel), as a card's decline is.
  if (states.some((s) => s.kind === 'past_due' || s.kind === 'declined' || s.kind === 'action_required')) {
    return html`<p class="attention" role="note">A payment did not go through: <a href="${cardFormLinks.card}">check your payment card</a>.</p>`;
  }
  return html``;
}

export function invoiceListPage(view: InvoiceListView): Html {
  const { invoices, balance } = view;
  const rows = invoices.map((inv) => {
    const state = view.payments.get(inv.id);
    return html`<tr>
<td><a href="/invoices/${encodeURIComponent(inv.id)}">${inv.number ?? 'draft'}</a></td>
<td data-label="Period">${monthName(inv.period)}</td>
<td data-label="Status">${statusTag(inv.status, state)}</td>
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
<span class="muted">${balance.credit === '0.00' ? '' : 'it pays your next invoices first'}</span></p>
<section class="card">${list}</section>`,
  );
}

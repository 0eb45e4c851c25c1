// One finalized invoice: its payment in words, its lines grouped by app, and
// its sums (subtotal, credit applied, the amount charged).
import type { Invoice } from '@vault/contracts';
import { html, type Html } from '@vault/web';
import { layout, money, monthName, type Viewer } from '../html.ts';
import type { Chargeback } from '../../charging/disputes.ts';
import type { PaymentState } from '../../charging/payment-state.ts';
import type { LineEnd } from '../stops.ts';
import { invoiceSums, linesByApp, statusTag } from './lines.ts';
import { paymentWords } from './payment.ts';

export interface InvoiceView {
  viewer: Viewer;
  invoice: Invoice;
  payment: PaymentState;
  /** How the usage behind each credit adjustment ended (stops.ts). */
  stops: ReadonlyMap<string, LineEnd>;
  /** Chargebacks of its payment (disputes.ts), oldest first; none for most invoices. */
  chargebacks?: readonly Chargeback[];
}

/**
 * A chargeback in words: the cardholder's bank took the payment back; given back once the dispute
 * was won. The invoice's status stays what it was: the money's whereabouts are said beside it.
 */
export function chargebackNotes(invoice: Invoice, chargebacks: readonly Chargeback[]): Html {
  const c = invoice.currency;
  return html`${chargebacks.map(
    (x) =>
      html`<p class="muted" data-chargeback="${x.amount}" data-reinstated="${String(x.reinstated)}">A chargeback of ${money(x.amount, c)} was withdrawn from this payment by the cardholder's bank${
        x.reinstated ? html`, and reinstated: the bank gave it back after the dispute.` : '.'
      }</p>`,
  )}`;
}

export function invoicePage({ viewer, invoice, payment, stops, chargebacks = [] }: InvoiceView): Html {
  const words = paymentWords(invoice, payment);
  return layout(
    { title: `Invoice ${invoice.number ?? invoice.id}`, viewer, current: 'invoices' },
    html`<p><a href="/invoices">← All invoices</a></p>
<h1>Invoice ${invoice.number ?? ''} ${statusTag(invoice, payment)}</h1>
${
  words.toString() === ''
    ? ''
    : html`<section class="card payment payment-${payment.kind}" aria-labelledby="payment-title" data-payment="${payment.kind}">
<h2 id="payment-title">Payment</h2>
${words}
</section>`
}
<section class="card" aria-label="Invoice lines">
<p class="muted">Account ${invoice.account_id} · ${monthName(invoice.period)} (${invoice.period}) · ${invoice.currency}</p>
${linesByApp(invoice, stops)}
${invoiceSums(invoice, payment)}
${chargebackNotes(invoice, chargebacks)}
</section>`,
  );
}

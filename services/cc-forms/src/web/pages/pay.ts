// The authenticate-and-pay page: an invoice whose off-session charge the bank
// refused until the cardholder confirms it (3-D Secure). The button hands the
// payment to the gateway's JS (/static/pay.js: confirmCardPayment), which shows
// the bank's challenge over the page.
import { html, type Html } from '@vault/web';
import { formatAmount } from '../../domain/amount.ts';
import { cardSummary } from '../../domain/card.ts';
import { paysHere, type AccountPayment } from '../../payments/service.ts';
import { layout } from '../layout.ts';

export interface PayPageOptions {
  accountId: string;
  csrf: string;
  payment: AccountPayment;
  publishableKey: string;
  gatewayJs: string;
  invoicesUrl: string;
}

export function payPage(o: PayPageOptions): Html {
  const { intent, stage, card, replaced } = o.payment;
  const amount = formatAmount(intent.amount, intent.currency);
  const number = intent.metadata.number;
  const invoiceId = intent.metadata.invoice_id;
  const invoiceLink = invoiceId
    ? html`<a href="${o.invoicesUrl}/invoices/${encodeURIComponent(invoiceId)}">Back to invoice ${number ?? ''}</a>`
    : html`<a href="${o.invoicesUrl}/invoices">Back to your invoices</a>`;
  const title = number ? `Pay invoice ${number}` : 'Pay an invoice';
  const named = card ? html`<strong data-card>${cardSummary(card)}</strong>` : undefined;
  // The button names the card too once it is not the one the bank was asked about.
  const label =
    replaced && card
      ? `Pay ${amount} with ${cardSummary(card)}`
      : `${stage === 'declined' ? 'Try again: pay' : 'Authenticate and pay'} ${amount}`;
  const form = html`<form id="pay-form" novalidate data-publishable-key="${o.publishableKey}" data-payment-intent="${intent.id}">
<div id="pay-errors" class="alert" role="alert" tabindex="-1"></div>
<button type="submit" id="pay-submit">${label}</button>
<p id="pay-status" class="status" role="status" tabindex="-1"></p>
</form>
<div id="pay-session-ended" hidden>Your session ended before the payment started, so nothing was charged. Go back to <a href="${o.invoicesUrl}/invoices${invoiceId ? `/${encodeURIComponent(invoiceId)}` : ''}">your invoice</a> and open this payment from there, or ask your account's administrator for a new sign-in link.</div>
<noscript><p class="alert">Paying needs JavaScript: the check is provided by your bank through our payment gateway.</p></noscript>`;
  // The card on file replaced the one the bank refused or asked about: the page says so, and names
  // the card that is charged now (/start hands over that one).
  const nowCharged = html`<p data-replaced>You have put another card on file since: this payment is now made with ${named}, and your bank may ask you to confirm it. Nothing has been charged yet.</p>
${form}`;
  const body =
    stage === 'payable'
      ? replaced
        ? html`<p>Your bank asked you to confirm this payment of <strong data-amount>${amount}</strong> with the card you had on file then.</p>
${nowCharged}`
        : html`<p>Your bank asks you to confirm this payment of <strong data-amount>${amount}</strong> before it can be charged${named ? html` to ${named}` : ''}. Nothing has been charged yet.</p>
<p>Press the button: your bank's check (3-D Secure) opens over this page. Once you complete it, the invoice is paid.</p>
${form}`
      : stage === 'declined'
        ? replaced
          ? html`<p data-declined>Your bank declined this payment of <strong data-amount>${amount}</strong> with the card you had on file then: <q data-reason>${intent.lastDecline ?? ''}</q></p>
${nowCharged}`
          : // The same PaymentIntent may be confirmed again: a second try is offered, another card too.
            html`<p data-declined>Your bank declined this payment of <strong data-amount>${amount}</strong>${named ? html` with ${named}` : ''}: <q data-reason>${intent.lastDecline ?? ''}</q> Nothing has been charged.</p>
<p><a href="/card">Put another payment card on file</a>: the invoice is charged to it as soon as it is saved. Or try this card again: your bank may ask you to confirm once more.</p>
${form}`
        : stage === 'paid'
          ? // What the payment did, not the invoice's state now: a refund or a chargeback since is the invoice's to show.
            html`<p class="status" data-paid>Your payment of ${amount} was made. Thank you: there is nothing more to do here. The invoice shows anything since, such as a refund.</p>`
          : stage === 'processing'
            ? html`<p>Your payment of ${amount} is being processed. Your invoice shows it as paid once it is done.</p>`
            : html`<p>This payment can no longer be made here. Nothing was charged. Please check your invoice.</p>`;
  return layout(
    {
      title,
      accountId: o.accountId,
      csrf: o.csrf,
      invoicesUrl: o.invoicesUrl,
      scripts: paysHere(stage) ? [o.gatewayJs, '/static/pay.js'] : [],
    },
    html`<p>${invoiceLink}</p>
<h1>${title}</h1>
<section class="panel" aria-labelledby="pay-title">
<h2 id="pay-title">Payment</h2>
${body}
</section>`,
  );
}

// The card page: the card on file, and the form whose fields are the
// gateway's iframe. Its script (/static/card.js) does the rest.
import { html, type Html } from '@vault/web';
import { cardExpiry, cardSummary, type CardOnFile } from '../../domain/card.ts';
import { CARD_MESSAGES, FALLBACK_MESSAGE } from '../../domain/messages.ts';
import { layout } from '../layout.ts';

export interface CardPageOptions {
  accountId: string;
  csrf: string;
  card: CardOnFile | undefined;
  publishableKey: string;
  /** Stripe.js, or the sandbox's stand-in. */
  gatewayJs: string;
  /** Invoicing's pages (INVOICING_WEB_URL). */
  invoicesUrl: string;
}

function onFile(card: CardOnFile | undefined): Html {
  return card
    ? html`<p id="card-on-file" class="on-file" tabindex="-1"><span data-card-summary>${cardSummary(card)}</span>
<span class="muted" data-card-expiry>expires ${cardExpiry(card)}</span></p>`
    : html`<p id="card-on-file" class="on-file" tabindex="-1"><span data-card-summary>No card on file yet.</span>
<span class="muted" data-card-expiry></span></p>`;
}

/** Every message the script may show, rendered here so they live in one place (src/domain/messages.ts). */
function messages(): Html {
  const items = Object.entries(CARD_MESSAGES).map(([code, text]) => html`<li data-code="${code}">${text}</li>`);
  return html`<ul id="card-messages" hidden>${items}<li data-code="fallback">${FALLBACK_MESSAGE}</li></ul>`;
}

/**
 * What the alert shows when the session ended before the card was saved (the
 * script copies it in on `session_ended`): that it was not saved, and the way
 * back, with a link to the invoice pages (a sign-in link works only once).
 */
function sessionEnded(invoicesUrl: string): Html {
  return html`<div id="card-session-ended" hidden>Your session ended before your card was saved, so it was not saved. Go back to <a href="${invoicesUrl}/invoices">your invoices</a> and open the card form from there, or ask your account's administrator for a new sign-in link.</div>`;
}

export function cardPage(o: CardPageOptions): Html {
  const formTitle = o.card ? 'Replace your card' : 'Add a card';
  return layout(
    {
      title: 'Payment card',
      accountId: o.accountId,
      csrf: o.csrf,
      scripts: [o.gatewayJs, '/static/card.js'],
      invoicesUrl: o.invoicesUrl,
      current: 'card',
    },
    html`<h1>Payment card</h1>
<p>The card on file pays your invoices once they are issued. <a href="${o.invoicesUrl}/invoices">See your invoices</a>.</p>
<section class="panel" aria-labelledby="on-file-title">
<h2 id="on-file-title">Card on file</h2>
${onFile(o.card)}
</section>
<section class="panel" aria-labelledby="card-form-title">
<h2 id="card-form-title">${formTitle}</h2>
<form id="card-form" novalidate data-publishable-key="${o.publishableKey}">
<div id="card-errors" class="alert" role="alert" tabindex="-1"></div>
<fieldset>
<legend>Card details</legend>
<div id="card-element" class="card-element"><p class="muted">Loading the secure card fields…</p></div>
</fieldset>
<p class="muted small">Your card number and security code go straight to our payment gateway; we keep only the brand, the last four digits and the expiry date.</p>
<button type="submit" id="card-submit">Save card</button>
<p id="card-status" class="status" role="status"></p>
</form>
<noscript><p class="alert">The card form needs JavaScript: the card fields are provided by our payment gateway.</p></noscript>
${messages()}
${sessionEnded(o.invoicesUrl)}
</section>`,
  );
}

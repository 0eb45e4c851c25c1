// An invoice's payment in words, for the customer: what happened, and what
// they can do about it (a link to the card form, or to authenticate).
import { DateTime } from 'luxon';
import type { Invoice } from '@vault/contracts';
import { html, type Html } from '@vault/web';
import { knownBrand } from '@vault/web/card-brands';
import { money } from '../html.ts';
import type { CardSeen, PaymentState } from '../../charging/payment-state.ts';

/**
 * Where the invoice pages send the customer on the card form: through
 * `/card-form` (routes.ts), which hands them over signed in (a sign-in link
 * works once, in one app), to the page asked for.
 */
export const cardFormLinks = {
  /** The card on file and the form to replace it. */
  card: '/card-form?to=card',
  /** The page where the cardholder authenticates a payment (3-D Secure) and pays it. */
  authenticate: (paymentIntentId: string) => `/card-form?to=payments/${encodeURIComponent(paymentIntentId)}`,
};

/** "Nov 3, 2026" (UTC, as every date the Vault shows). */
export const day = (at: Date) => DateTime.fromJSDate(at, { zone: 'utc' }).toFormat('LLL d, yyyy');

/** "Visa •••• 4242". */
export const cardName = (card: CardSeen) => `${knownBrand(card.brand) ?? card.brand} •••• ${card.last4}`;

/**
 * The gateway's reason for a decline, unless it only says "Your card was
 * declined." (its generic_decline): the sentence already says that, and quoting
 * it read "Your card was declined: "Your card was declined."".
 */
export function declineReason(reason: string | undefined): string | undefined {
  const said = reason?.trim();
  return said === undefined || said === '' || /^your card was declined\.?$/i.test(said) ? undefined : said;
}

/** One sentence or two on the payment; empty for a draft. */
export function paymentWords(invoice: Invoice, state: PaymentState): Html {
  const links = cardFormLinks;
  const c = invoice.currency;
  const withCard = (card: CardSeen | undefined) => (card ? html` with <span data-card>${cardName(card)}</span>` : '');
  const on = (at: Date | undefined) => (at ? html` on <time datetime="${at.toISOString()}">${day(at)}</time>` : '');
  const since = (at: Date | undefined) => (at ? html` since <time datetime="${at.toISOString()}">${day(at)}</time>` : '');
  switch (state.kind) {
    case 'none':
      if (state.why === 'below_minimum') {
        return html`<p>Not charged: ${money(invoice.total, c)} is below the smallest amount we can charge to a card. It will be added to your next invoice.</p>`;
      }
      return state.why === 'nothing_to_charge' ? html`<p>Nothing to pay: the amount charged is ${money(invoice.total, c)}.</p>` : html``;
    case 'not_chargeable':
      // Neither "we try again" nor "added to your next invoice": charging never tries it and finalize never carries it.
      return html`<p>${state.pastDue ? html`Past due${since(state.pastDue.since)}: n` : 'N'}ot charged: ${money(invoice.total, c)} is below the smallest amount we can charge to a card, so we will not charge it again. A payment of it was begun before, so it is not added to your next invoice either.</p>
<p>Please ask your platform support to settle this invoice.</p>`;
    case 'pending':
      if (state.canceledUntil) return canceledWords(state.canceledUntil, state.pastDue);
      return state.pastDue
        ? html`<p>Past due${since(state.pastDue.since)}: we are trying again with your card on file.</p>`
        : html`<p>Not paid yet: we charge your card on file shortly after the invoice is issued.</p>`;
    case 'paid':
      return html`<p>Paid${on(state.at)}${withCard(state.card)}. Thank you.</p>`;
    case 'refunded':
      return state.whole
        ? html`<p>Refunded: the whole ${money(state.amount, c)} went back to your card.</p>`
        : html`<p>Paid${on(state.at)}${withCard(state.card)}; ${money(state.amount, c)} of ${money(invoice.total, c)} was refunded to your card.</p>`;
    case 'declined': {
      const reason = declineReason(state.reason);
      return html`<p>${state.pastDue ? html`Past due${since(state.pastDue.since)}. ` : ''}Your card was declined${reason ? html`: <q data-reason>${reason}</q>` : '.'} We will try again on <time datetime="${state.nextTryAt.toISOString()}">${day(state.nextTryAt)}</time>.</p>
<p>To pay with another card, <a href="${links.card}">update your payment card</a>: we charge the new card at once.</p>`;
    }
    case 'past_due': {
      if (state.why === 'no_card') {
        return html`<p>Past due${since(state.since)}: there is no payment card on file for your account, so we could not charge this invoice.</p>
<p><a href="${links.card}">Add a payment card</a>: we charge it as soon as it is saved.</p>`;
      }
      if (state.why === 'card_blocked_elsewhere') {
        // Matched another account's fraud block: nothing of this customer's was reported, so nothing is said of it.
        return html`<p>Past due${since(state.since)}: the card on file cannot be used for payments here. Please use a different card.</p>
<p><a href="${links.card}">Add another payment card</a>: we charge it as soon as it is saved.</p>`;
      }
      if (state.why === 'card_blocked') {
        return html`<p>Past due${since(state.since)}: your bank reported a payment on your card on file as unauthorised, so we will not charge that card again.</p>
<p><a href="${links.card}">Add another payment card</a>: we charge it as soon as it is saved.</p>`;
      }
      // A refusal that is not the card's is never called a decline: the customer's card may be fine.
      const why =
        state.why === 'declined'
          ? html`your card was declined each time we tried${declineReason(state.reason) ? html` (<q data-reason>${declineReason(state.reason)}</q>)` : ''}`
          : html`we could not charge your card`;
      return html`<p>Past due${since(state.since)}: ${why}, and we will not try it again.</p>
<p><a href="${links.card}">Put another payment card on file</a>: we charge it as soon as it is saved.</p>`;
    }
    case 'action_required': {
      const pay = html`<p><a class="button" href="${links.authenticate(state.paymentIntentId)}">${state.declined === undefined ? 'Authenticate and pay' : 'Try again: pay'} ${money(invoice.total, c)}</a></p>`;
      // Declined after their check: the same payment may be tried again (the bank may say yes), or another card.
      if (state.declined !== undefined) {
        return html`<p data-declined>${state.pastDue ? 'Past due: y' : 'Y'}our bank declined this payment after you confirmed it: <q data-reason>${state.declined}</q> Nothing has been charged.</p>
<p><a href="${links.card}">Put another payment card on file</a> (we charge it at once), or try again with this card.</p>
${pay}`;
      }
      // The cardholder tried and failed the bank's check: they may try again.
      const failed = state.checkFailed
        ? html`<p data-check-failed>Your last confirmation did not pass your bank's check: nothing was charged. Try again, or <a href="${links.card}">put another payment card on file</a>.</p>
`
        : '';
      return html`<p>${state.pastDue ? 'Past due: y' : 'Y'}our bank asks you to confirm this payment (3-D Secure): we cannot complete it without you. Nothing has been charged yet.</p>
${failed}${pay}`;
    }
  }
}

/**
 * The hour after card testing canceled the payment request (request-canceled.ts): not "shortly", but
 * what happened and when the new request comes, to the minute (the wait is an hour).
 */
function canceledWords(until: Date, pastDue: { since: Date | undefined } | undefined): Html {
  const at = DateTime.fromJSDate(until, { zone: 'utc' }).toFormat("LLL d, yyyy, HH:mm 'UTC'");
  const since = pastDue?.since ? html` since <time datetime="${pastDue.since.toISOString()}">${day(pastDue.since)}</time>` : '';
  return html`<p data-request-canceled>${pastDue ? html`Past due${since}. ` : 'Not paid yet. '}We canceled the payment request for this invoice to protect you: other cards were tried and declined on its payment page. Nothing was charged to your card.</p>
<p>A new payment request comes after <time datetime="${until.toISOString()}">${at}</time>: we charge your card on file then (if your bank asks you to confirm it, this page will show how).</p>`;
}

/** The payment state's name in the invoice list and tag: what the customer must know at a glance. */
export function paymentLabel(state: PaymentState): string | undefined {
  if (state.kind === 'declined') return 'declined, will retry';
  if (state.kind === 'action_required') return state.declined === undefined ? 'action required' : 'declined';
  return undefined;
}

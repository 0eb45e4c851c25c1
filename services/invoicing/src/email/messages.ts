// The customer's emails, one per notice that tells them something: pure text
// made from the notice. No email carries a sign-in link or a token: sign-in
// links are made by an operator for one customer and work once for 15
// minutes, so the email says where to sign in and how to ask for a link.
import { DateTime } from 'luxon';
import { minimumChargeAmount } from '../charging/amount.ts';
import { CARD_BLOCKED_ELSEWHERE, CARD_REPORTED_FRAUDULENT } from '../charging/blocked-cards.ts';
import { askedAgainWords } from '../charging/asked-again.ts';
import { isCardError } from '../charging/card-errors.ts';
import { isBelowMinimum } from '../domain/credit.ts';
import type { NoticeEvent } from '../notices/notice.ts';
import { suspensionSteps } from './suspended.ts';

export interface EmailText {
  subject: string;
  text: string;
}

export interface EmailContext {
  /** Where the customer signs in (INVOICING_WEB_URL, else the local address). */
  invoicingUrl: string;
}

const money = (amount: unknown, currency: unknown) => (currency === 'USD' ? `$${String(amount)}` : `${String(amount)} ${String(currency)}`);
const month = (period: unknown) => DateTime.fromFormat(String(period), 'yyyy-MM', { zone: 'utc' }).toFormat('LLLL yyyy');
const day = (iso: unknown) => (typeof iso === 'string' ? DateTime.fromISO(iso, { zone: 'utc' }).toFormat('d LLLL yyyy') : undefined);

/**
 * What becomes of an invoice's total: nothing to pay at 0.00; above it but
 * below the gateway's smallest charge it is never charged (charging's
 * `below_minimum`) but carried onto the next invoice, as the invoice page says;
 * else it is charged to the card on file. The notice does not say whether the
 * account has one (charging learns that when it charges), so the email tells
 * an account without one what to do rather than promising a charge.
 */
function payment(total: unknown, currency: unknown): string {
  const minimum = minimumChargeAmount(String(currency));
  if (total === '0.00') return 'There is nothing to pay.';
  if (isBelowMinimum(String(total), minimum)) {
    return `This amount is below the smallest charge we can make to a card (${money(minimum, currency)}). It is not charged: it will be added to your next invoice.`;
  }
  return [
    "We charge it to your account's card on file shortly.",
    'No card on file yet? Add one on the card form (linked from your invoices): it is charged at once.',
  ].join('\n');
}

function signIn(ctx: EmailContext): string {
  return [
    `To see it, sign in to your invoices at ${ctx.invoicingUrl}/ with a sign-in link.`,
    'Ask your platform support for a sign-in link for your account: each link works once,',
    'for 15 minutes. This email never carries one.',
  ].join('\n');
}

/** The email a notice sends, or undefined for a notice the customer is not emailed about. */
export function emailFor(event: NoticeEvent, ctx: EmailContext): EmailText | undefined {
  const d = event.data;
  const invoice = `invoice ${String(d.number)} (${month(d.period)}, ${money(d.total, d.currency)})`;
  const lines = (...parts: (string | undefined)[]) =>
    `Hello,\n\n${parts.filter((p) => p !== undefined).join('\n\n')}\n\nThe Vault billing\n`;
  switch (event.type) {
    case 'invoice.finalized':
      return {
        subject: `Your invoice ${String(d.number)} for ${month(d.period)}: ${money(d.total, d.currency)}`,
        text: lines(`Your ${invoice} is ready.`, payment(d.total, d.currency), signIn(ctx)),
      };
    case 'invoice.payment_failed': {
      const next = day(d.next_attempt_at);
      return {
        subject: `We could not charge your card for invoice ${String(d.number)}`,
        text: lines(
          // The gateway's own words (a missing customer, a refused key) are not the bank's.
          isCardError(d.code)
            ? `Your card was not charged for ${invoice}. Your bank said: ${String(d.reason ?? d.code)}`
            : `Your card was not charged for ${invoice}.`,
          next
            ? `We will try again on ${next}. A new card on the card form is tried at once.`
            : // Declined after they confirmed it (3-D Secure): the payment still waits for them.
              d.status === 'action_required'
              ? 'Sign in and open the invoice to try the payment again, or put another card on the card form: it is tried at once.'
              : // No retry scheduled (past due: the schedule's last try, or their own try the bank declined):
                // what the invoice page offers depends on the payment, so the email points there.
                'Sign in and open the invoice to see how it can be paid, or put another card on the card form: it is tried at once.',
          signIn(ctx),
        ),
      };
    }
    case 'invoice.action_required':
      return {
        subject: `Please confirm the payment of invoice ${String(d.number)}`,
        text: lines(
          `Your bank asks you to confirm the payment of ${invoice} (3-D Secure). We cannot charge it without you.`,
          // A request made again on a new PaymentIntent says so (asked-again.ts), not read as the first one sent twice.
          askedAgainWords(d),
          'Sign in, open the invoice and choose to authenticate and pay: your bank then asks you to confirm.',
          signIn(ctx),
        ),
      };
    case 'invoice.past_due':
      return {
        subject: `Invoice ${String(d.number)} is past due`,
        text: lines(
          d.reason === 'no_card_on_file'
            ? `Your ${invoice} is past due: your account has no card on file.`
            : d.reason === CARD_REPORTED_FRAUDULENT
              ? `Your ${invoice} is past due: your bank reported a payment on your card on file as unauthorised, so we will not charge that card again.`
              : d.reason === CARD_BLOCKED_ELSEWHERE
                ? `Your ${invoice} is past due: the card on file cannot be used for payments here. Please use a different card.`
                : d.reason === 'declined'
                  ? `Your ${invoice} is past due: your card was declined.`
                  : d.reason === 'authentication_required'
                    ? `Your ${invoice} is past due: your bank asked you to confirm the payment (3-D Secure), and it is not confirmed yet.`
                    : `Your ${invoice} is past due: we could not charge your card.`,
          d.reason === 'authentication_required'
            ? 'Sign in, open the invoice and choose to authenticate and pay: it is paid as soon as your bank confirms.'
            : d.reason === CARD_REPORTED_FRAUDULENT || d.reason === CARD_BLOCKED_ELSEWHERE
              ? 'Add another card on the card form (linked from your invoices): it is charged at once.'
              : 'Add a card on the card form (linked from your invoices): it is charged at once.',
          signIn(ctx),
        ),
      };
    case 'account.suspended':
      return {
        subject: `Your account ${d.account_id} is suspended`,
        text: lines(
          `Your account ${d.account_id} is suspended: an invoice has been past due since ${day(d.past_due_since) ?? 'too long'}.`,
          // Not always a card: the notice's `remedies` say what settles each past-due invoice (suspended.ts).
          suspensionSteps(d.remedies),
          signIn(ctx),
        ),
      };
    default:
      return undefined;
  }
}

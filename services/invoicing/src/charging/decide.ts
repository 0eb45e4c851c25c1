// What the charger does with one invoice, and what an answer changes: pure
// functions of the stored rows, the card on file and the clock. No I/O here;
// charger.ts does the calls and the writes these decide.
import { Decimal } from 'decimal.js';
import type { InvoiceStatus } from '@vault/contracts';
import { minimumCharge, minorUnits } from './amount.ts';
import { CARD_REPORTED_FRAUDULENT, CARD_REPORTED_FRAUDULENT_MESSAGE } from './blocked-cards.ts';
import type { ReportedPayment } from './payment-match.ts';

/** The charge row's code while its attempt's success is stray: the invoice is not paid, operators decide (save-payment.ts). */
export const STRAY_PAYMENT = 'stray_payment';

/** A finalized invoice as the charger sees it. */
export interface ChargeableInvoice {
  id: string;
  accountId: string;
  number: string;
  status: InvoiceStatus;
  currency: string;
  /** "52.58" */
  total: string;
}

/** action_required: an off-session attempt needs the cardholder; it waits for them (or another card). */
export type ChargeStateName = 'scheduled' | 'past_due' | 'paid' | 'action_required';

/** The invoice's `invoicing.charges` row. */
export interface ChargeRow {
  paymentIntentId: string | null;
  state: ChargeStateName;
  /** Attempts whose answer is recorded; the next attempt is number attempts + 1. */
  attempts: number;
  /** `attempts` when the current round (the current card's retries) began. */
  roundStart: number;
  /** Set while attempt attempts + 1 is chosen and not yet answered: its card. */
  pendingPaymentMethodId: string | null;
  lastPaymentMethodId: string | null;
  lastAttemptAt: Date | null;
  /** Set exactly when state is scheduled. */
  nextAttemptAt: Date | null;
  lastErrorCode: string | null;
  lastDeclineCode: string | null;
  lastErrorMessage: string | null;
  /** Read with the row, never stored: its pending attempt's card is reported stolen (blocked-cards.ts). */
  pendingBlocked?: boolean;
  /** Read with the row (written at each ask, round-ask.ts): the current round's first ask; null if it never asked. */
  roundAskedAt?: Date | null;
}

/** The account's row of `cc_forms.cards_on_file`, as far as charging reads it. */
export interface CardOnFile {
  customerId: string;
  paymentMethodId: string;
  /** Reported stolen (a fraudulent chargeback: blocked-cards.ts): never charged, as if there were no card. */
  blocked?: boolean;
}

export type Decision =
  | {
      do: 'nothing';
      why: 'paid' | 'nothing_to_charge' | 'below_minimum' | 'not_yet' | 'waiting_for_card' | 'waiting_for_customer';
    }
  /** No card on file (`blocked`: only one reported stolen): the invoice is past_due until one is added. */
  | { do: 'past_due_no_card'; blocked?: true }
  /**
   * Asked to authenticate, the cardholder has not within the time the retry
   * schedule would have given a declined card: the invoice is past_due (its
   * PaymentIntent still waits for them, and another card is still tried).
   */
  | { do: 'past_due_unauthenticated' }
  /**
   * Already past due, its cardholder asked: nothing moves on its own, but they may have paid on our
   * page with the webhook lost. The pass reads the PaymentIntent (paid: the invoice is paid) once
   * `pastDueLookEvery` has passed since the ask or the last look, and again that much after it.
   */
  | { do: 'look_for_payment' }
  /**
   * Its attempt's success did not pay the invoice (stray: the PaymentIntent's amount or currency
   * changed at the gateway): never confirmed again. The pass reads the PaymentIntent: once its charge
   * is given back in full (refunded, the operator's remedy; or a chargeback the gateway closed as lost,
   * as a disputed charge cannot be refunded), it is let go and the invoice charged anew.
   */
  | { do: 'check_stray_refund' }
  /**
   * Its attempt in flight names a card reported stolen since, and has a PaymentIntent: never confirmed
   * with that card. The PaymentIntent is canceled (paid already: recorded as paid) and the attempt dropped.
   */
  | { do: 'drop_blocked_attempt' }
  | {
      do: 'attempt';
      /** The attempt's number n, for the key `<invoice id>:attempt:<n>`. */
      attempt: number;
      paymentMethodId: string;
      /** The gateway customer, to create the PaymentIntent if it does not exist yet. */
      customerId: string | null;
      /** Minor units (cents). */
      amount: number;
      /** This attempt starts a round: the retry schedule counts from it. */
      newRound: boolean;
      /** Attempt n was chosen before and may have been sent: the same request again. */
      replay: boolean;
    };

/**
 * What to do with an invoice now. In order: paid is absorbing; a total ≤ 0,
 * or below the gateway's minimum charge, is never charged; an attempt chosen and not answered is sent again, unchanged
 * (its card even if the card on file changed since); a stray success waits for
 * its refund (check_stray_refund); without a card (or with only one reported
 * stolen: `onFile.blocked`) the invoice is past_due; a card other than the one last tried is tried at once
 * and starts a new round; otherwise the retry schedule says when.
 */
export function decide(
  invoice: ChargeableInvoice,
  charge: ChargeRow | undefined,
  onFile: CardOnFile | undefined,
  now: Date,
  /** Seconds a cardholder asked to authenticate has before the invoice is past_due: the retry schedule's span. */
  authenticationWindow = Number.POSITIVE_INFINITY,
  /** When the cardholder was last asked (the row's action_required_at): how often a past-due invoice is looked at. */
  askedAt: Date | null = null,
): Decision {
  if (invoice.status === 'paid' || charge?.state === 'paid') return { do: 'nothing', why: 'paid' };
  if (new Decimal(invoice.total).lte(0)) return { do: 'nothing', why: 'nothing_to_charge' };
  const amount = minorUnits(invoice.total, invoice.currency);
  // The gateway refuses less than its minimum (amount.ts: 0.50 USD, 3.00 SEK, or GATEWAY_MINIMUM_CHARGE):
  // such a total is never charged; the account's next invoice carries it.
  if (amount < minimumCharge(invoice.currency)) return { do: 'nothing', why: 'below_minimum' };
  const next = (charge?.attempts ?? 0) + 1;
  // A card reported stolen is no card: charged again, it would be charged back again (another fee).
  const blocked = onFile?.blocked === true;
  const card = blocked ? undefined : onFile;
  const noCard: Decision = blocked ? { do: 'past_due_no_card', blocked: true } : { do: 'past_due_no_card' };
  if (charge?.pendingPaymentMethodId && charge.pendingBlocked) {
    // Its card was reported stolen since the attempt was chosen: not replayed. Without a PaymentIntent
    // nothing was confirmed, so the attempt is forgotten and the card on file (or none) decides.
    if (charge.paymentIntentId) return { do: 'drop_blocked_attempt' };
    const { pendingBlocked: _, ...rest } = charge;
    return decide(invoice, { ...rest, pendingPaymentMethodId: null }, onFile, now, authenticationWindow, askedAt);
  }
  if (charge?.pendingPaymentMethodId) {
    // Recorded, never answered. Without its PaymentIntent nothing was confirmed (confirm
    // follows the PaymentIntent's save), and without a card the create cannot be replayed
    // (it names the card's customer): given up as no card, not thrown at every pass.
    if (!charge.paymentIntentId && !card) return noCard;
    return {
      do: 'attempt',
      attempt: next,
      paymentMethodId: charge.pendingPaymentMethodId,
      customerId: card?.customerId ?? null,
      amount,
      newRound: false,
      replay: true,
    };
  }
  // Before any card rule: another card would pay the invoice on top of the stray payment.
  if (charge?.lastErrorCode === STRAY_PAYMENT && charge.paymentIntentId) return { do: 'check_stray_refund' };
  const due = charge?.state === 'scheduled' && charge.nextAttemptAt !== null && charge.nextAttemptAt <= now;
  // The cardholder is asked to authenticate: not retried, unless another card comes.
  const waiting = charge?.state === 'action_required';
  // Their time is up (as long as the retries of a declined card would have taken): past_due, once.
  // Counted from the round's first ask: asked again on a new PaymentIntent (card testing revoked the
  // old one), the window goes on, or burning it hourly would keep the invoice from ever going past due.
  // Once past due, lastAttemptAt is when the pass last looked at the PaymentIntent (see look_for_payment).
  const since = (seconds: number, from = charge?.lastAttemptAt ?? null) =>
    waiting && from !== null && from.getTime() + seconds * 1000 <= now.getTime();
  const unauthenticated =
    invoice.status !== 'past_due' && since(authenticationWindow, charge?.roundAskedAt ?? charge?.lastAttemptAt ?? null);
  // A past-due invoice has no status left to move, but a payment whose webhook was lost must be found,
  // and soon: its account may be suspended for it (looked at hourly, not once a window).
  const look = invoice.status === 'past_due' && since(pastDueLookEvery(authenticationWindow, askedAt, now));
  if (!card) {
    if (unauthenticated) return { do: 'past_due_unauthenticated' };
    if (look) return { do: 'look_for_payment' };
    if (waiting) return { do: 'nothing', why: 'waiting_for_customer' };
    if (charge?.state === 'past_due') return { do: 'nothing', why: 'waiting_for_card' };
    if (charge?.state === 'scheduled' && !due) return { do: 'nothing', why: 'not_yet' };
    return noCard;
  }
  const attempt = (newRound: boolean): Decision => ({
    do: 'attempt',
    attempt: next,
    paymentMethodId: card.paymentMethodId,
    customerId: card.customerId,
    amount,
    newRound,
    replay: false,
  });
  // Compared by payment method, not by time: cc-forms' clock and ours never
  // need to agree, and a card re-entered is a new payment method.
  if (!charge || charge.lastPaymentMethodId !== card.paymentMethodId) return attempt(true);
  if (charge.state === 'past_due') return { do: 'nothing', why: 'waiting_for_card' };
  if (unauthenticated) return { do: 'past_due_unauthenticated' };
  if (look) return { do: 'look_for_payment' };
  if (waiting) return { do: 'nothing', why: 'waiting_for_customer' };
  return due ? attempt(false) : { do: 'nothing', why: 'not_yet' };
}

/** The gateway's answer to one confirm, as charging needs it. */
export type Answer =
  /**
   * `payment`: what the gateway says it received; it pays the invoice only if paysInvoice agrees (save-payment.ts).
   * `earlier`: it had succeeded before this confirm (a 400), so it may have been refunded since.
   */
  | { kind: 'succeeded'; payment: ReportedPayment; earlier?: true }
  /** The card was declined (card_error): a charge failed. */
  | { kind: 'declined'; code: string; declineCode: string | null; message: string }
  /**
   * The card needs its holder (3-D Secure: `authentication_required`, or the
   * PaymentIntent in `requires_action`): not a decline; the customer confirms it.
   */
  | { kind: 'action_required'; code: string; message: string }
  /** The gateway refused the request for good (4xx other than a card error): nothing charged, the key is spent. */
  | { kind: 'refused'; code: string; message: string }
  /** No answer to record (network, 409, 429, 5xx, auth): the same key is sent again on a later pass. */
  | { kind: 'unanswered'; code: string; message: string };

export interface AfterAnswer {
  charge: ChargeRow;
  /** The invoice's new status, when it changes (past_due stays past_due when asked for action). */
  invoiceStatus?: 'paid' | 'past_due' | 'action_required';
}

/**
 * The charge row after attempt `attempts + 1` (made with `paymentMethodId`)
 * got `answer` at `now`. A decline or refusal spends the attempt: the next is
 * due after `retrySchedule[k - 1]` seconds, k being the declines of this round;
 * after the last one the invoice is past_due. No answer changes nothing but
 * the error shown: the attempt stays pending and is sent again.
 */
export function afterAnswer(
  charge: ChargeRow,
  paymentMethodId: string,
  answer: Answer,
  now: Date,
  retrySchedule: readonly number[],
): AfterAnswer {
  if (answer.kind === 'unanswered') {
    return { charge: { ...charge, lastErrorCode: answer.code, lastDeclineCode: null, lastErrorMessage: answer.message } };
  }
  const answered: ChargeRow = {
    ...charge,
    attempts: charge.attempts + 1,
    pendingPaymentMethodId: null,
    lastPaymentMethodId: paymentMethodId,
    lastAttemptAt: now,
  };
  if (answer.kind === 'succeeded') {
    return {
      charge: { ...answered, state: 'paid', nextAttemptAt: null, lastErrorCode: null, lastDeclineCode: null, lastErrorMessage: null },
      invoiceStatus: 'paid',
    };
  }
  if (answer.kind === 'action_required') {
    return {
      charge: {
        ...answered,
        state: 'action_required',
        nextAttemptAt: null,
        lastErrorCode: answer.code,
        lastDeclineCode: null,
        lastErrorMessage: answer.message,
      },
      invoiceStatus: 'action_required',
    };
  }
  const failure = {
    lastErrorCode: answer.code,
    lastDeclineCode: answer.kind === 'declined' ? answer.declineCode : null,
    lastErrorMessage: answer.message,
  };
  const declines = answered.attempts - answered.roundStart;
  const wait = retrySchedule[declines - 1];
  if (wait === undefined) {
    return { charge: { ...answered, ...failure, state: 'past_due', nextAttemptAt: null }, invoiceStatus: 'past_due' };
  }
  return { charge: { ...answered, ...failure, state: 'scheduled', nextAttemptAt: new Date(now.getTime() + wait * 1000) } };
}

/** The row before attempt `decision.attempt` is sent: its card chosen, a new round begun if so. */
export function beforeAttempt(charge: ChargeRow | undefined, decision: Extract<Decision, { do: 'attempt' }>, now: Date): ChargeRow {
  const { pendingBlocked: _, ...base } = charge ?? NEW_CHARGE;
  return {
    ...base,
    state: 'scheduled',
    // A row's next_attempt_at is set exactly while it is scheduled.
    nextAttemptAt: base.nextAttemptAt ?? now,
    roundStart: decision.newRound ? base.attempts : base.roundStart,
    pendingPaymentMethodId: decision.paymentMethodId,
  };
}

/** The row of an invoice whose account has no card on file (`blocked`: only one reported stolen). */
export function pastDueWithoutCard(charge: ChargeRow | undefined, blocked = false): ChargeRow {
  return {
    ...(charge ?? NEW_CHARGE),
    // An attempt that never reached a PaymentIntent is dropped with its card.
    pendingPaymentMethodId: charge?.paymentIntentId ? charge.pendingPaymentMethodId : null,
    state: 'past_due',
    nextAttemptAt: null,
    lastErrorCode: blocked ? CARD_REPORTED_FRAUDULENT : 'no_card_on_file',
    lastDeclineCode: null,
    lastErrorMessage: blocked ? CARD_REPORTED_FRAUDULENT_MESSAGE : 'The account has no card on file.',
  };
}

/** How long a cardholder asked to authenticate has, in seconds: what the retries of a declined card would take. */
export function authenticationWindow(retrySchedule: readonly number[]): number {
  return retrySchedule.reduce((sum, wait) => sum + wait, 0);
}

/**
 * At most how often (seconds) a past-due invoice waiting for its cardholder has its PaymentIntent
 * looked at (one GET to the gateway): a payment on our page whose webhook was lost is found within
 * the hour, so a suspended account is reinstated within the hour, not a window.
 */
export const PAST_DUE_LOOK_EVERY_SECONDS = 3600;

/**
 * For how long after the ask the looks are hourly: an invoice its customer abandoned waits for
 * ever, and hourly looks at every one of them would grow without end (and take a pass's time
 * before new invoices' first attempts). After it, once a window, as before the ask's end.
 */
export const PAST_DUE_HOURLY_LOOKS_FOR_SECONDS = 30 * 24 * 3600;

/** Seconds between looks at a past-due invoice's waiting PaymentIntent: hourly for 30 days after the ask, then once a window. */
export function pastDueLookEvery(authenticationWindow: number, askedAt: Date | null, now: Date): number {
  const recent = askedAt !== null && now.getTime() < askedAt.getTime() + PAST_DUE_HOURLY_LOOKS_FOR_SECONDS * 1000;
  return recent ? Math.min(PAST_DUE_LOOK_EVERY_SECONDS, authenticationWindow) : authenticationWindow;
}

/** An invoice's charge before its first attempt. */
export const NEW_CHARGE: ChargeRow = {
  paymentIntentId: null,
  state: 'scheduled',
  attempts: 0,
  roundStart: 0,
  pendingPaymentMethodId: null,
  lastPaymentMethodId: null,
  lastAttemptAt: null,
  nextAttemptAt: null,
  lastErrorCode: null,
  lastDeclineCode: null,
  lastErrorMessage: null,
};

// An invoice's payment as the customer's pages say it in words, read from its
// charge row: paid (when, with which card), declined (the gateway's reason,
// the next try), past due (why, since when), waiting for the cardholder to
// authenticate (the PaymentIntent to confirm; their failed check, or the
// bank's decline after it), refunded, not chargeable (small, charged before).
// The client secret is never stored: a page of the signed-in customer fetches
// it from the gateway with the PaymentIntent id. "Added to your next invoice"
// only when finalize carries it: its own rule (`carryable`), read in the same
// query, never guessed again from the amount.
import { Decimal } from 'decimal.js';
import type pg from 'pg';
import type { Invoice } from '@vault/contracts';
import { carryable } from '../billing/credit-store.ts';
import { minimumCharge, minimumChargeAmount, minorUnits } from './amount.ts';
import { blockedElsewhereSql, CARD_BLOCKED_ELSEWHERE, CARD_REPORTED_FRAUDULENT } from './blocked-cards.ts';
import { AUTHENTICATION_FAILED, isCardError } from './card-errors.ts';
import { REQUEST_CANCELED_UNTIL_SQL } from './request-canceled.ts';

export interface CardSeen {
  brand: string;
  last4: string;
}

export type PaymentState =
  /**
   * Nothing is charged: a draft, a total of 0.00, below the gateway's minimum and carried by the
   * next finalize (`below_minimum`: `carryable`, never charged), or carried onto a later invoice.
   */
  | { kind: 'none'; why: 'draft' | 'nothing_to_charge' | 'below_minimum' | 'carried' }
  /**
   * Below the gateway's minimum but charged before (a PaymentIntent, or an attempt sent and never
   * answered: the minimum was raised since): never charged again (decide) nor carried (`carryable`),
   * so owed until an operator settles it; `pastDue` when its invoice is past due (it counts for the
   * account's standing). One whose PaymentIntent waits for the cardholder is `action_required` instead.
   */
  | { kind: 'not_chargeable'; pastDue: PastDue | undefined }
  /**
   * Finalized, not tried yet, or an attempt in flight. `pastDue`: a past-due invoice's new round (see PastDue).
   * `canceledUntil`: its payment request was canceled as other cards were tried on its page (card testing);
   * the card on file is charged on a new one at that time (request-canceled.ts).
   */
  | { kind: 'pending'; pastDue?: PastDue | undefined; canceledUntil?: Date | undefined }
  | { kind: 'paid'; at: Date | undefined; card: CardSeen | undefined }
  /** Declined; another try is scheduled. `reason` is the gateway's message. */
  | { kind: 'declined'; reason: string; declineCode: string | undefined; nextTryAt: Date; attempts: number; pastDue?: PastDue | undefined }
  /**
   * No card on file, declined at every try of the schedule, or refused for a reason that is
   * not the card's (the gateway's customer gone, an amount it will not take), or its card on file
   * reported stolen (`card_blocked`: a fraudulent chargeback, never charged again): waits for another card.
   */
  | {
      kind: 'past_due';
      why: 'no_card' | 'card_blocked' | typeof CARD_BLOCKED_ELSEWHERE | 'declined' | 'not_charged';
      reason: string | undefined;
      since: Date | undefined;
    }
  /**
   * The bank asks the cardholder to authenticate (3-D Secure): the customer
   * confirms `paymentIntentId` with `paymentMethodId` on cc-forms' page. `pastDue`
   * when the invoice was already past due (its status stays past_due). `checkFailed`: their last
   * try failed the bank's check. `declined`: the bank's words when it declined their last try after
   * the check; the same PaymentIntent may be confirmed again, or another card put on file.
   */
  | {
      kind: 'action_required';
      paymentIntentId: string;
      paymentMethodId: string | undefined;
      since: Date | undefined;
      pastDue: boolean;
      checkFailed?: true;
      declined?: string;
    }
  | { kind: 'refunded'; amount: string; whole: boolean; at: Date | undefined; card: CardSeen | undefined };

/**
 * A past-due invoice being tried again: a new card starts a round of attempts
 * (decide.ts), and the invoice stays past_due while it runs (tell.ts only ever
 * moves an invoice to past_due), so the page says both.
 */
export interface PastDue {
  since: Date | undefined;
}

/** The invoice's charge row, as this read needs it. */
export interface PaymentRow {
  invoice_id: string;
  state: 'scheduled' | 'past_due' | 'paid' | 'action_required';
  attempts: number;
  /** `attempts` when the current round (the current card's tries) began. */
  round_start: number;
  payment_intent_id: string | null;
  last_payment_method_id: string | null;
  last_error_code: string | null;
  last_decline_code: string | null;
  last_error_message: string | null;
  next_attempt_at: Date | null;
  paid_at: Date | null;
  paid_card_brand: string | null;
  paid_card_last4: string | null;
  past_due_at: Date | null;
  action_required_at: Date | null;
  /** The card-testing revocation's retry_at the row waits for (request-canceled.ts), else null. */
  request_canceled_until?: Date | null;
  /** The account has no block of its own (CARD_BLOCKED_ELSEWHERE): its card matched another account's by fingerprint. */
  blocked_elsewhere?: boolean;
}

/**
 * Each invoice's charge row (none: `invoice_id` null) and whether the next finalize carries it: the very
 * rule finalize and the standing review read (`carryable`), with each invoice's minimum ($2, null when
 * it cannot be carried: then neither is a minimum looked up).
 */
const SQL = `
  select x.id, coalesce(${carryable('x.minimum')}, false) as carryable,
         c.invoice_id, c.state, c.attempts, c.round_start, c.payment_intent_id, c.last_payment_method_id, c.last_error_code,
         c.last_decline_code, c.last_error_message, c.next_attempt_at, c.paid_at, c.paid_card_brand, c.paid_card_last4,
         c.past_due_at, c.action_required_at, ${blockedElsewhereSql('i.account_id')} as blocked_elsewhere,
         ${REQUEST_CANCELED_UNTIL_SQL} as request_canceled_until
    from unnest($1::text[], $2::numeric[]) as x(id, minimum)
    left join invoicing.invoices i on i.id = x.id
    left join invoicing.charges c on c.invoice_id = x.id`;

type InvoiceSeen = Pick<Invoice, 'id' | 'status' | 'total' | 'currency' | 'amount_refunded'>;

/** Only an owed invoice with something to pay may be carried: the others need no minimum (and may have none). */
const mayCarry = (i: InvoiceSeen) => (i.status === 'finalized' || i.status === 'past_due') && new Decimal(i.total).gt(0);

/** Each invoice's payment state, in one query. */
export async function readPaymentStates(db: pg.Pool | pg.PoolClient, invoices: readonly InvoiceSeen[]): Promise<Map<string, PaymentState>> {
  const read = invoices.filter((i) => i.status !== 'draft');
  const rows = new Map<string, PaymentRow>();
  const carry = new Set<string>();
  if (read.length > 0) {
    const minimums = read.map((i) => (mayCarry(i) ? minimumChargeAmount(i.currency) : null));
    const result = await db.query<PaymentRow & { id: string; carryable: boolean; invoice_id: string | null }>(SQL, [
      read.map((i) => i.id),
      minimums,
    ]);
    for (const { id, carryable: carried, ...r } of result.rows) {
      if (carried) carry.add(id);
      if (r.invoice_id !== null) rows.set(id, r);
    }
  }
  return new Map(invoices.map((i) => [i.id, paymentState(i, rows.get(i.id), carry.has(i.id))]));
}

/**
 * What the invoice's status and charge row say, in the order a customer needs it. `carried`: the next
 * finalize carries it (`carryable`, as readPaymentStates reads it with the row).
 */
export function paymentState(invoice: InvoiceSeen, row: PaymentRow | undefined, carried = false): PaymentState {
  const paidCard = row?.paid_card_brand && row.paid_card_last4 ? { brand: row.paid_card_brand, last4: row.paid_card_last4 } : undefined;
  const paidAt = row?.paid_at ?? undefined;
  if (invoice.status === 'refunded' || (invoice.status === 'paid' && invoice.amount_refunded !== '0.00')) {
    return { kind: 'refunded', amount: invoice.amount_refunded, whole: invoice.status === 'refunded', at: paidAt, card: paidCard };
  }
  if (invoice.status === 'paid') return { kind: 'paid', at: paidAt, card: paidCard };
  if (invoice.status === 'draft') return { kind: 'none', why: 'draft' };
  if (invoice.status === 'carried') return { kind: 'none', why: 'carried' };
  if (Number(invoice.total) <= 0) return { kind: 'none', why: 'nothing_to_charge' };
  if (carried) return { kind: 'none', why: 'below_minimum' };
  const pastDue = invoice.status === 'past_due' ? { since: row?.past_due_at ?? undefined } : undefined;
  if (row?.state === 'action_required' && row.payment_intent_id) {
    return {
      kind: 'action_required',
      paymentIntentId: row.payment_intent_id,
      paymentMethodId: row.last_payment_method_id ?? undefined,
      since: row.action_required_at ?? undefined,
      pastDue: invoice.status === 'past_due',
      ...(row.last_error_code === AUTHENTICATION_FAILED ? { checkFailed: true as const } : {}),
      ...(isCardError(row.last_error_code) ? { declined: row.last_error_message ?? row.last_error_code! } : {}),
    };
  }
  // Small, yet not carried: charged before. decide() never tries it again (below_minimum), so no retry,
  // no new card's charge is promised; its PaymentIntent waiting for the cardholder may still be paid (above).
  if (minorUnits(invoice.total, invoice.currency) < minimumCharge(invoice.currency)) return { kind: 'not_chargeable', pastDue };
  const cardError = isCardError(row?.last_error_code);
  // A scheduled row on a past-due invoice is a new card's round: it is tried, not given up.
  if (pastDue && row?.state !== 'scheduled') {
    const noCard = !row || row.last_error_code === 'no_card_on_file';
    return {
      kind: 'past_due',
      why: noCard
        ? 'no_card'
        : row.last_error_code === CARD_REPORTED_FRAUDULENT
          ? row.blocked_elsewhere
            ? CARD_BLOCKED_ELSEWHERE
            : 'card_blocked'
          : cardError
            ? 'declined'
            : 'not_charged',
      reason: cardError ? (row?.last_error_message ?? undefined) : undefined,
      since: pastDue.since,
    };
  }
  // A decline of this round, with the card's own words, until the retry; anything else since (the
  // gateway not answering) is still pending to the customer, never a past "we will try again" date.
  // Not the round's first attempt in flight: next_attempt_at is set then too, and the error is the last card's.
  if (row?.state === 'scheduled' && cardError && row.next_attempt_at && row.attempts > row.round_start) {
    return {
      kind: 'declined',
      reason: row.last_error_message ?? row.last_error_code!,
      declineCode: row.last_decline_code ?? undefined,
      nextTryAt: row.next_attempt_at,
      attempts: row.attempts,
      pastDue,
    };
  }
  return row?.request_canceled_until
    ? { kind: 'pending', pastDue, canceledUntil: row.request_canceled_until }
    : { kind: 'pending', pastDue };
}

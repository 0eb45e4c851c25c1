// What charging's changes tell (api.md "Notices"), written in the transaction
// that makes them, after the invoice's lock (the one lock order): a declined
// attempt (invoice.payment_failed), a request for the cardholder
// (invoice.action_required), an invoice past due, an invoice paid, an invoice
// refunded whole (invoice.refunded, beyond api.md's list). The dates
// and cards the invoice pages show (payment-state.ts) are stored here too.
import type pg from 'pg';
import { reinstateIfClear } from '../accounts/standing.ts';
import { invoiceNotice, type InvoiceFacts, type Notice } from '../notices/notice.ts';
import { recordNotices } from '../notices/outbox.ts';
import type { Answer, ChargeRow } from './decide.ts';
import { askedAgain } from './asked-again.ts';
import { recordAsk } from './round-ask.ts';
import { AUTHENTICATION_FAILED, isCardError } from './card-errors.ts';
import { blockedElsewhereSql, CARD_BLOCKED_ELSEWHERE, CARD_REPORTED_FRAUDULENT } from './blocked-cards.ts';

/** A row's last error while its payment waits for the cardholder (asked, or their check failed and they may retry). */
const WAITING_CODES = new Set(['authentication_required', 'requires_action', AUTHENTICATION_FAILED]);

export interface ChargeChange {
  /** The invoice's new status (past_due is set on a finalized or action_required invoice only). */
  invoiceStatus?: 'paid' | 'past_due' | 'action_required' | undefined;
  /** When it happened, by the charger's clock (default: now). */
  at?: Date | undefined;
  /** The attempt whose answer is recorded: a failure or a request for the cardholder is told. */
  answered?: { attempt: number; answer: Answer } | undefined;
  /**
   * The answer asks for the cardholder after the round's 3-D Secure window ended (save-answer.ts): the
   * request is past due as it is made, so it is not told as one to act on (invoice.action_required)
   * but only by invoice.past_due when the invoice moves, naming the PaymentIntent that now waits.
   */
  askedLate?: boolean | undefined;
}

/** The invoice as its notices describe it, its status as the transaction leaves it. */
export async function invoiceFacts(client: pg.PoolClient, invoiceId: string): Promise<InvoiceFacts> {
  const { rows } = await client.query<{
    account_id: string;
    number: string;
    period: string;
    currency: string;
    total: string;
    status: string;
  }>('select account_id, number, period, currency, total::text as total, status from invoicing.invoices where id = $1', [invoiceId]);
  const r = rows[0];
  if (!r) throw new Error(`invoice ${invoiceId} does not exist`);
  return {
    id: invoiceId,
    accountId: r.account_id,
    number: r.number,
    period: r.period,
    currency: r.currency,
    total: r.total,
    status: r.status,
  };
}

/**
 * The invoice's status move (but paid, see tellPaid) and the notices of a charge row's change. An
 * `action_required` invoice whose row is written `scheduled` goes back to `finalized`: the wait for
 * the cardholder is over.
 */
export async function tellChargeChange(client: pg.PoolClient, invoiceId: string, charge: ChargeRow, change: ChargeChange): Promise<void> {
  const at = change.at ?? new Date();
  let pastDue = false;
  if (change.invoiceStatus === 'past_due') {
    const moved = await client.query(
      `update invoicing.invoices set status = 'past_due' where id = $1 and status in ('finalized', 'action_required')`,
      [invoiceId],
    );
    pastDue = (moved.rowCount ?? 0) > 0;
    if (pastDue) await client.query('update invoicing.charges set past_due_at = $2 where invoice_id = $1', [invoiceId, at]);
  }
  if (charge.state === 'scheduled') {
    // The row no longer waits for the cardholder (another card's round began: its attempt chosen, in
    // flight, or declined with a retry left): neither does the invoice. Moved back in the row's own
    // transaction, before any notice reads the facts, so status, row and notice agree. A past_due
    // invoice stays past_due (a new round does not make it less overdue).
    await client.query(`update invoicing.invoices set status = 'finalized' where id = $1 and status = 'action_required'`, [invoiceId]);
  }
  if (change.invoiceStatus === 'action_required') {
    // A past_due invoice stays past_due (it is still overdue); its charge row says the cardholder is asked.
    await client.query(`update invoicing.invoices set status = 'action_required' where id = $1 and status = 'finalized'`, [invoiceId]);
  }
  if (change.invoiceStatus === 'action_required' || change.answered?.answer.kind === 'action_required') {
    // The latest ask, and the round's first: the 3-D Secure window counts from that one (round-ask.ts).
    // An ask past the window makes the invoice past due instead, and is an ask all the same.
    await recordAsk(client, invoiceId, at);
  }
  const answer = change.answered?.answer;
  const attempt = change.answered?.attempt;
  if (!pastDue && answer?.kind !== 'declined' && answer?.kind !== 'refused' && answer?.kind !== 'action_required') return;
  const facts = await invoiceFacts(client, invoiceId);
  const notices: Notice[] = [];
  if (answer?.kind === 'declined' || answer?.kind === 'refused') {
    notices.push(
      invoiceNotice(
        'invoice.payment_failed',
        facts,
        at,
        {
          attempt,
          code: answer.code,
          decline_code: answer.kind === 'declined' ? answer.declineCode : null,
          reason: answer.message,
          next_attempt_at: charge.nextAttemptAt?.toISOString() ?? null,
        },
        attempt,
      ),
    );
  }
  // Asked past the window: one message, the past-due one (below); an invoice past due already was told so.
  if (answer?.kind === 'action_required' && !change.askedLate) {
    // Asked before in this round: a new request on a new PaymentIntent (the old one canceled), told as such (asked-again.ts).
    const again =
      attempt === undefined ? undefined : await askedAgain(client, invoiceId, charge.roundStart, attempt, charge.paymentIntentId);
    notices.push(
      invoiceNotice('invoice.action_required', facts, at, { attempt, payment_intent_id: charge.paymentIntentId, ...again }, attempt),
    );
  }
  if (pastDue) {
    const noCard = charge.lastErrorCode === 'no_card_on_file';
    const blocked = charge.lastErrorCode === CARD_REPORTED_FRAUDULENT;
    // Another account's fraud block on the same card (by fingerprint): its customer is not told a payment of theirs was reported.
    const elsewhere =
      blocked && (await client.query<{ e: boolean }>(`select ${blockedElsewhereSql('$1')} as e`, [facts.accountId])).rows[0]?.e;
    notices.push(
      invoiceNotice('invoice.past_due', facts, at, {
        // `refused`: the gateway refused for a reason not the card's (never told as a decline);
        // `authentication_required`: the payment still waits for the cardholder to confirm it (a failed
        // check of theirs included: payment-failed.ts); their try the bank declined is `declined`.
        // `card_reported_fraudulent`: the card on file was charged back as used without authorisation (blocked-cards.ts).
        reason: noCard
          ? 'no_card_on_file'
          : blocked
            ? elsewhere
              ? CARD_BLOCKED_ELSEWHERE
              : CARD_REPORTED_FRAUDULENT
            : WAITING_CODES.has(charge.lastErrorCode ?? '')
              ? 'authentication_required'
              : isCardError(charge.lastErrorCode)
                ? 'declined'
                : 'refused',
        message: charge.lastErrorMessage,
        // The request made past the window is told here only: the platform learns what waits for the cardholder.
        ...(change.askedLate && charge.paymentIntentId ? { payment_intent_id: charge.paymentIntentId } : {}),
      }),
    );
  }
  if (notices.length > 0) await recordNotices(client, notices);
}

/**
 * After an invoice moved to paid (`at`): the card it was paid with (the card on
 * file, when it is that payment method), the invoice.paid notice, and the
 * account's reinstatement (at `reinstatedAt`: when we learnt of it) if nothing it owes is past due any more.
 */
export async function tellPaid(
  client: pg.PoolClient,
  invoiceId: string,
  at: Date,
  paymentMethodId: string | null,
  reinstatedAt: Date = at,
): Promise<void> {
  const card = await cardOf(client, invoiceId, paymentMethodId);
  // The charger writes its row as paid before the invoice moves: the date and card are set here, once.
  await client.query(
    `update invoicing.charges
        set paid_at = coalesce(paid_at, $2), paid_card_brand = coalesce(paid_card_brand, $3), paid_card_last4 = coalesce(paid_card_last4, $4)
      where invoice_id = $1`,
    [invoiceId, at, card?.brand ?? null, card?.last4 ?? null],
  );
  const facts = await invoiceFacts(client, invoiceId);
  await recordNotices(client, [
    invoiceNotice('invoice.paid', facts, at, {
      paid_at: at.toISOString(),
      card_brand: card?.brand ?? null,
      card_last4: card?.last4 ?? null,
    }),
  ]);
  await reinstateIfClear(client, facts.accountId, reinstatedAt);
}

/**
 * After a refund made an invoice `refunded` (whole): invoice.refunded (beyond
 * api.md's list), once, its id the invoice's, since an invoice becomes
 * `refunded` once (it never moves back, and its refund never goes down).
 * A partial refund is not told (see refunds.ts). Not emailed: the gateway
 * sends the customer its own refund receipt.
 */
export async function tellRefunded(
  client: pg.PoolClient,
  invoiceId: string,
  at: Date,
  refund: { amountRefunded: string; chargeId: string },
): Promise<void> {
  const facts = await invoiceFacts(client, invoiceId);
  await recordNotices(client, [
    invoiceNotice('invoice.refunded', facts, at, { amount_refunded: refund.amountRefunded, charge_id: refund.chargeId }),
  ]);
}

/** The card (brand, last 4) of the payment method that paid, from cc-forms' published view when it is there. */
async function cardOf(client: pg.PoolClient, invoiceId: string, paymentMethodId: string | null) {
  const view = await client.query<{ present: boolean }>(`select to_regclass('cc_forms.cards_on_file') is not null as present`);
  if (!view.rows[0]?.present) return undefined;
  const { rows } = await client.query<{ brand: string; last4: string }>(
    `select k.brand, k.last4
       from invoicing.charges c
       join invoicing.invoices i on i.id = c.invoice_id
       join cc_forms.cards_on_file k on k.account_id = i.account_id
      where c.invoice_id = $1 and k.payment_method_id = coalesce($2, c.last_payment_method_id)`,
    [invoiceId, paymentMethodId],
  );
  return rows[0];
}

// A payment the charger learns of (its confirm's answer, or the PaymentIntent read back) pays the
// invoice only when it is the invoice's own, for exactly its total in its currency (paysInvoice),
// checked under the invoice's lock in the transaction that writes it, as the webhook checks
// payment_intent.succeeded. Anyone with the account's keys can change an unconfirmed PaymentIntent's
// amount or currency: such a payment is stray (the webhook's word), never paid here, told to operators,
// and never confirmed again: once it is given back at the gateway (refunded, or a chargeback lost), the invoice is charged anew.
// A payment found late may have been refunded before we knew of it: that refund is recorded with it.
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import type { Logger } from '@vault/runtime';
import { fromMinorUnits } from './amount.ts';
import { type ChargeRow, STRAY_PAYMENT } from './decide.ts';
import type { ChargeGateway, ReportedCharge, ReportedDispute, ReportedIntent } from './gateway-calls.ts';
import { paysInvoice, type PaymentVerdict, type ReportedPayment } from './payment-match.ts';
import { recordRefund, type RefundOutcome } from './refunds.ts';
import { type GivenBack, givenBack } from './stray-given-back.ts';
import { forgetRoundAsk } from './round-ask.ts';
import { lockInvoice, lockInvoiceForPayment, writeCharge } from './store.ts';
import type { ChargeChange } from './tell.ts';

export { STRAY_PAYMENT };

export type StrayReason = Extract<PaymentVerdict, { pays: false }>['reason'];

interface Deps {
  pool: pg.Pool;
  log: Logger;
}

/**
 * A confirm answered succeeded: `paid` (afterAnswer's row) is written only when the payment is the
 * invoice's own. Otherwise `stray`, with paysInvoice's reason: the row says why (the pages and the API
 * say not paid) and is not sent again (strayRow).
 */
export async function saveSucceeded(
  deps: Deps,
  invoiceId: string,
  paid: ChargeRow,
  pending: ChargeRow,
  change: ChargeChange,
  payment: ReportedPayment,
): Promise<{ saved: 'paid' } | { saved: 'stray'; reason: StrayReason }> {
  const saved = await withTransaction(
    deps.pool,
    async (client) => {
      const verdict = paysInvoice(payment, await lockInvoiceForPayment(client, invoiceId));
      if (!verdict.pays) {
        const at = change.at ?? new Date();
        await writeCharge(client, invoiceId, strayRow(pending, payment, verdict.reason, at), { at }, false);
        return { saved: 'stray' as const, reason: verdict.reason };
      }
      await writeCharge(client, invoiceId, paid, change, false);
      return { saved: 'paid' as const };
    },
    { log: deps.log, name: 'charging.save_payment' },
  );
  if (saved.saved === 'stray') logStray(deps.log, invoiceId, payment, saved.reason);
  return saved;
}

/**
 * The attempt's row after its success turned out stray, saying why (never shown to the customer). The
 * attempt is no longer pending: sent again, its confirm would get the same answer at every pass for
 * ever. decide() reads the code and only looks for the stray payment's refund (check_stray_refund);
 * next_attempt_at (`at`) keeps the row among the pass's candidates for that look.
 */
export function strayRow(pending: ChargeRow, payment: ReportedPayment, reason: StrayReason, at: Date): ChargeRow {
  const received = `${fromMinorUnits(payment.amount, payment.currency)} ${payment.currency.toUpperCase()}`;
  return {
    ...pending,
    state: 'scheduled',
    pendingPaymentMethodId: null,
    lastPaymentMethodId: pending.pendingPaymentMethodId ?? pending.lastPaymentMethodId,
    lastAttemptAt: at,
    nextAttemptAt: at,
    lastErrorCode: STRAY_PAYMENT,
    lastDeclineCode: null,
    lastErrorMessage: `the gateway reports ${payment.id} succeeded for ${received}, which does not pay this invoice (${reason}); refund it (vault refund-stray with this invoice's id, or at the gateway; or a chargeback of it lost) and the invoice is charged anew`,
  };
}

/**
 * A stray row's PaymentIntent read back (check_stray_refund). Given back to the cardholder in full
 * (stray-given-back.ts): refunded (the operator's remedy: vault refund-stray, or the gateway's dashboard), charged back by
 * a dispute the gateway closed as lost (a disputed charge cannot be refunded), or both: let go as an
 * unusable one is (no PaymentIntent, a new key), so the next attempt creates a new PaymentIntent for
 * the invoice's total, and the round's first ask is forgotten (forgetRoundAsk: a new request, a new
 * window), and it is recorded as given back (charge_payment_intents.given_back_at: asked-again.ts);
 * the row and its new key are returned. Its disputes are read only when its
 * charge is disputed and not refunded in full. Otherwise `held` (still held, nothing written: the
 * PaymentIntent read and what was given back), `stray` (not read, or not succeeded), `unanswered`, or `paid` (meanwhile).
 */
export async function releaseRefundedStray(
  deps: Deps & { gateway: ChargeGateway },
  invoiceId: string,
  charge: ChargeRow,
): Promise<{ row: ChargeRow; key: string } | { held: ReportedIntent; back: GivenBack } | 'stray' | 'unanswered' | 'paid'> {
  const id = charge.paymentIntentId!;
  const intent = await deps.gateway.retrievePaymentIntent(id);
  if ('error' in intent) {
    const code = intent.error.kind === 'succeeded' ? '' : intent.error.code;
    deps.log.warn('charge.retrieve_failed', { invoice_id: invoiceId, payment_intent: id, code });
    return intent.error.kind === 'unanswered' ? 'unanswered' : 'stray';
  }
  if (intent.status !== 'succeeded') return 'stray';
  let disputes: ReportedDispute[] = [];
  if (intent.disputed && !givenBack(intent, []).whole) {
    const listed = await deps.gateway.listDisputes(id);
    if ('error' in listed) {
      const code = listed.error.kind === 'succeeded' ? '' : listed.error.code;
      deps.log.warn('charge.dispute_check_failed', { invoice_id: invoiceId, payment_intent: id, code });
      return listed.error.kind === 'unanswered' ? 'unanswered' : 'stray';
    }
    disputes = listed;
  }
  const back = givenBack(intent, disputes);
  // Still held: the caller tells operators once a day (stray-still-held.ts).
  if (!back.whole) return { held: intent, back };
  // Given back, its request is over: the next one is new, with a 3-D Secure window of its own (round-ask.ts).
  const row: ChargeRow = {
    ...charge,
    paymentIntentId: null,
    roundAskedAt: null,
    lastErrorCode: null,
    lastDeclineCode: null,
    lastErrorMessage: null,
  };
  const key = await withTransaction(
    deps.pool,
    async (client) => {
      await lockInvoice(client, invoiceId);
      await forgetRoundAsk(client, invoiceId, id);
      const written = await writeCharge(client, invoiceId, row, {}, true);
      // Let go as given back, not canceled: a later ask's notice says which (asked-again.ts, migration 042).
      if (written !== undefined) {
        await client.query(
          'update invoicing.charge_payment_intents set given_back_at = now() where payment_intent_id = $1 and invoice_id = $2',
          [id, invoiceId],
        );
      }
      return written;
    },
    { log: deps.log, name: 'charging.save_charge' },
  );
  if (key === undefined) return 'paid';
  deps.log.info('charge.stray_released', {
    invoice_id: invoiceId,
    payment_intent: id,
    amount_refunded: fromMinorUnits(back.refunded, intent.currency),
    amount_charged_back: fromMinorUnits(back.chargedBack, intent.currency),
    currency: intent.currency.toUpperCase(),
    ...(back.disputes.length > 0 ? { disputes: back.disputes.join(',') } : {}),
  });
  return { row, key };
}

/** A payment that does not pay its invoice, told to operators (amounts are no secret; the PaymentIntent names it). */
export function logStray(log: Logger, invoiceId: string, payment: ReportedPayment, reason: StrayReason): void {
  log.warn('charge.stray', {
    invoice_id: invoiceId,
    payment_intent: payment.id,
    reason,
    amount_received: fromMinorUnits(payment.amount, payment.currency),
    currency: payment.currency.toUpperCase(),
    'count#charges.stray': 1,
  });
}

/**
 * The refunds the gateway reports on a payment's charge, recorded on the invoice it just paid, in the
 * caller's transaction (after the invoice's lock). A refund whose webhook came before the payment was
 * ours waited for it only as long as the gateway retries (webhooks.ts), then was recorded as stray: found
 * paid later (the cardholder's payment read back), the invoice would keep it unrefunded for ever.
 * recordRefund never lowers what is recorded, so this and the webhook agree in any order.
 */
export async function recordReportedRefund(
  client: pg.PoolClient,
  invoiceId: string,
  paymentIntentId: string,
  charge: ReportedCharge | undefined,
  at: Date,
): Promise<RefundOutcome | undefined> {
  if (!charge || charge.amount_refunded <= 0) return undefined;
  return recordRefund(client, invoiceId, { object: 'charge', payment_intent: paymentIntentId, ...charge }, at);
}

/**
 * After a confirm learned that its PaymentIntent had succeeded before it (a 400): the refunds its charge
 * reports, read back and recorded as recordReportedRefund does. Not read: warned, and left to the refund's
 * own webhook (retried for three days by the gateway).
 */
export async function recordRefundsSince(
  deps: Deps & { gateway: ChargeGateway; now?: (() => Date) | undefined },
  invoiceId: string,
  paymentIntentId: string,
): Promise<void> {
  const intent = await deps.gateway.retrievePaymentIntent(paymentIntentId);
  if ('error' in intent) {
    const code = intent.error.kind === 'succeeded' ? '' : intent.error.code;
    deps.log.warn('charge.refund_check_failed', { invoice_id: invoiceId, payment_intent: paymentIntentId, code });
    return;
  }
  if (!intent.charge || intent.charge.amount_refunded <= 0) return;
  const at = deps.now?.() ?? new Date();
  const refund = await withTransaction(deps.pool, async (client) => recordReportedRefund(client, invoiceId, intent.id, intent.charge, at), {
    log: deps.log,
    name: 'charging.refunds_since',
  });
  logRefundFound(deps.log, intent.id, refund);
}

/** A refund found with a payment, told when it changed anything (a stray one to operators). */
export function logRefundFound(log: Logger, paymentIntentId: string, refund: RefundOutcome | undefined): void {
  if (!refund || refund.outcome === 'unchanged') return;
  const fields = { payment_intent: paymentIntentId, ...refund };
  if (refund.outcome === 'stray') log.warn('charge.refund_found', { ...fields, 'count#refunds.stray': 1 });
  else log.info('charge.refund_found', fields);
}

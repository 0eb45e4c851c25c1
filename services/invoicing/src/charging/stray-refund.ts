// The operator's remedy for a stray payment (save-payment.ts: a PaymentIntent of the invoice that
// succeeded for another amount or currency, holding the invoice until its money is back with the
// cardholder): refund what of it is still ours to give back, as the gateway would take it. Its
// disputes are read first: while a chargeback of it is open the gateway refuses any refund
// (charge_disputed), so this refuses naming the dispute and its status; a won one gave the money
// back to us, so all of it is refunded; a lost one took its own amount back, so only the rest is.
// Nothing is written here but a refund's new key after a 500 (stray-refund-after-500.ts): the next
// charging pass finds it given back in full (stray-given-back.ts) and lets it go, charging the
// invoice anew; run again after that, the stray let go is found at the gateway (released-stray.ts)
// and named as given back. A refund the gateway did not make (failed, canceled, requires_action) is
// told as such, never as refunded.
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import { fromMinorUnits } from './amount.ts';
import { STRAY_PAYMENT } from './decide.ts';
import type { ChargeGateway, ReportedDispute, ReportedIntent } from './gateway-calls.ts';
import type { RefundGateway } from './refund-gateway.ts';
import { releasedStray } from './released-stray.ts';
import { blocksRefund, givenBack } from './stray-given-back.ts';
import { refundStrayOnce } from './stray-refund-after-500.ts';
import { refundKey, unmade } from './stray-refund-answer.ts';

export interface StrayRefundDeps {
  pool: pg.Pool;
  gateway: Pick<ChargeGateway, 'retrievePaymentIntent' | 'listDisputes'> & RefundGateway;
  log: Logger;
}

export type StrayRefund =
  | {
      outcome: 'refunded';
      paymentIntentId: string;
      refundId: string;
      amount: string;
      currency: string;
      /** The gateway's: `pending` is made but not with the cardholder yet. */
      status: 'succeeded' | 'pending';
      message: string;
    }
  | {
      outcome: 'refused';
      reason:
        | 'no_invoice'
        | 'not_stray'
        | 'dispute_open'
        | 'given_back'
        | 'not_succeeded'
        | 'gateway_refused'
        | 'refund_failed'
        | 'unanswered';
      message: string;
    };

/** What a refund may take of a stray payment now, or why none: pure. */
export type RefundPlan =
  | { refund: number }
  | { refuse: 'dispute_open'; dispute: ReportedDispute }
  | { refuse: 'given_back' }
  | { refuse: 'not_succeeded' };

/**
 * What is left to give back: what it received less what was refunded and what lost disputes took.
 * A won dispute counts nothing (the money came back to us), so a refund after it is not counted twice.
 */
export function refundPlan(intent: ReportedIntent, disputes: readonly ReportedDispute[]): RefundPlan {
  if (intent.status !== 'succeeded') return { refuse: 'not_succeeded' };
  const open = disputes.find(blocksRefund);
  if (open) return { refuse: 'dispute_open', dispute: open };
  const back = givenBack(intent, disputes);
  const left = intent.amount - back.refunded - back.chargedBack;
  return left > 0 ? { refund: left } : { refuse: 'given_back' };
}

/** The invoice's stray PaymentIntent, if its charge row holds one; its account and the PaymentIntent it holds. */
async function strayOf(
  pool: pg.Pool,
  invoiceId: string,
): Promise<{ found: false } | { found: true; stray: string | null; held: string | null; accountId: string }> {
  const { rows } = await pool.query<{ account_id: string; payment_intent_id: string | null; last_error_code: string | null }>(
    `select i.account_id, c.payment_intent_id, c.last_error_code
       from invoicing.invoices i left join invoicing.charges c on c.invoice_id = i.id
      where i.id = $1`,
    [invoiceId],
  );
  const row = rows[0];
  if (!row) return { found: false };
  const stray = row.last_error_code === STRAY_PAYMENT ? row.payment_intent_id : null;
  return { found: true, stray, held: row.payment_intent_id, accountId: row.account_id };
}

const disputeWords = (disputes: readonly ReportedDispute[]) =>
  disputes.length === 0 ? 'no dispute' : disputes.map((d) => `${d.id} (${d.status})`).join(', ');

/** Refunds what is left of the invoice's stray payment, or says why nothing was. */
export async function refundStray(deps: StrayRefundDeps, invoiceId: string): Promise<StrayRefund> {
  const held = await strayOf(deps.pool, invoiceId);
  if (!held.found) return { outcome: 'refused', reason: 'no_invoice', message: `no invoice ${invoiceId}` };
  const id = held.stray;
  if (!id) {
    // Run again after a pass let the stray go (refunded, released): it is given back, as the first run's answer said.
    const released = await releasedStray(deps, invoiceId, held.accountId, held.held);
    if ('error' in released) {
      return {
        outcome: 'refused',
        reason: 'unanswered',
        message: `the gateway did not answer the list of the PaymentIntents of invoice ${invoiceId} (${released.error}); run it again`,
      };
    }
    if (released.found) {
      const { intent, back, disputes } = released.found;
      const money = (minor: number) => `${fromMinorUnits(minor, intent.currency)} ${intent.currency.toUpperCase()}`;
      return {
        outcome: 'refused',
        reason: 'given_back',
        message:
          `${intent.id} (the stray payment of invoice ${invoiceId}, let go by a charging pass) is back with the cardholder already ` +
          `(refunded ${money(back.refunded)}, charged back ${money(back.chargedBack)}; disputes: ${disputeWords(disputes)}): ` +
          'the invoice holds no stray payment any more, nothing to refund',
      };
    }
    return {
      outcome: 'refused',
      reason: 'not_stray',
      message: `invoice ${invoiceId} holds no stray payment (a PaymentIntent that succeeded for another amount or currency): nothing to refund`,
    };
  }
  const what = `${id} (the stray payment of invoice ${invoiceId})`;
  const unanswered = (step: string, code: string): StrayRefund => ({
    outcome: 'refused',
    reason: 'unanswered',
    message: `the gateway did not answer ${step} of ${what} (${code}); nothing refunded, run it again`,
  });
  const intent = await deps.gateway.retrievePaymentIntent(id);
  if ('error' in intent) return unanswered('the read', intent.error.kind === 'succeeded' ? 'succeeded' : intent.error.code);
  let disputes: ReportedDispute[] = [];
  if (intent.disputed) {
    const listed = await deps.gateway.listDisputes(id);
    if ('error' in listed) return unanswered('the list of disputes', listed.error.kind === 'succeeded' ? 'succeeded' : listed.error.code);
    disputes = listed;
  }
  const plan = refundPlan(intent, disputes);
  const money = (minor: number) => `${fromMinorUnits(minor, intent.currency)} ${intent.currency.toUpperCase()}`;
  const back = givenBack(intent, disputes);
  if ('refuse' in plan) {
    if (plan.refuse === 'dispute_open') {
      const d = plan.dispute;
      return {
        outcome: 'refused',
        reason: 'dispute_open',
        message:
          `the charge of ${what} is under dispute ${d.id} (${d.status}, ${money(d.amount)}): the gateway refuses to refund a charge ` +
          'while its chargeback is open. Once it is closed: lost, the next charging pass lets the stray go (run this again if it ' +
          'was for part of the payment); won, run this again',
      };
    }
    if (plan.refuse === 'not_succeeded') {
      return { outcome: 'refused', reason: 'not_succeeded', message: `${what} is ${intent.status}: there is no payment to refund` };
    }
    return {
      outcome: 'refused',
      reason: 'given_back',
      message:
        `${what} is back with the cardholder already (refunded ${money(back.refunded)}, charged back ${money(back.chargedBack)}; ` +
        `disputes: ${disputeWords(disputes)}): the next charging pass lets it go and charges the invoice anew`,
    };
  }
  // The refunds made so far, failed ones too: a failed refund gives its amount back to the charge, so
  // the amounts alone would send the failed refund's key again and get its first answer replayed.
  const earlier = await deps.gateway.listRefunds(id, intent.charge?.id);
  if ('error' in earlier) return unanswered('the list of refunds', earlier.error.kind === 'succeeded' ? 'succeeded' : earlier.error.code);
  // Under the state's key, or after a 500 the refund it made, else a new key stored first (stray-refund-after-500.ts).
  const made = await refundStrayOnce(deps, {
    invoiceId,
    paymentIntentId: id,
    chargeId: intent.charge?.id,
    amount: plan.refund,
    baseKey: refundKey(id, earlier.length, back),
    metadata: { invoice_id: invoiceId, reason: 'stray_payment' },
  });
  if ('error' in made) {
    const answer = made.error;
    if (answer.kind === 'unanswered') {
      // Unanswered, it may have been made: a run again finds it (given back, or by its key after a 500).
      return {
        outcome: 'refused',
        reason: 'unanswered',
        message: `the gateway did not answer the refund of ${what} (${answer.code}); run it again: it refunds only what is not back yet`,
      };
    }
    const code = answer.kind === 'succeeded' ? 'succeeded' : answer.code;
    return {
      outcome: 'refused',
      reason: 'gateway_refused',
      message: `the gateway refused to refund ${money(plan.refund)} of ${what} (${code}); its disputes when read: ${disputeWords(disputes)}`,
    };
  }
  if (made.status !== 'succeeded' && made.status !== 'pending') {
    deps.log.warn('charge.stray_refund_failed', {
      invoice_id: invoiceId,
      payment_intent: id,
      refund: made.id,
      status: made.status,
      ...(made.failureReason ? { failure_reason: made.failureReason } : {}),
    });
    return { outcome: 'refused', reason: 'refund_failed', message: unmade(made, money(made.amount), what) };
  }
  const pending = made.status === 'pending';
  deps.log.info('charge.stray_refunded', {
    invoice_id: invoiceId,
    payment_intent: id,
    refund: made.id,
    status: made.status,
    amount: fromMinorUnits(made.amount, intent.currency),
    currency: intent.currency.toUpperCase(),
    amount_charged_back: fromMinorUnits(back.chargedBack, intent.currency),
    ...(disputes.length > 0 ? { disputes: disputes.map((d) => `${d.id}:${d.status}`).join(',') } : {}),
  });
  return {
    outcome: 'refunded',
    paymentIntentId: id,
    refundId: made.id,
    amount: fromMinorUnits(made.amount, intent.currency),
    currency: intent.currency.toUpperCase(),
    status: pending ? 'pending' : 'succeeded',
    message:
      (pending
        ? `refund ${made.id} of ${money(made.amount)} of ${what} is pending at the gateway (not with the cardholder yet; should it fail, run this again)`
        : `refunded ${money(made.amount)} of ${what}: refund ${made.id}`) +
      (back.refunded + back.chargedBack > 0
        ? `; given back before: refunded ${money(back.refunded)}, charged back ${money(back.chargedBack)}`
        : '') +
      (disputes.length > 0 ? `; disputes: ${disputeWords(disputes)}` : '') +
      '. The next charging pass lets it go and charges the invoice anew',
  };
}

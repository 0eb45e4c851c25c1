// The operator's remedy for a stray payment (save-payment.ts: a PaymentIntent of the invoice that
// succeeded for another amount or currency, holding the invoice until its money is back with the
// cardholder): refund what of it is still ours to give back, as the gateway would take it. Its
// disputes are read first: while a chargeback of it is open the gateway refuses any refund
// (charge_disputed), so this refuses naming the dispute and its status; a won one gave the money
// back to us, so all of it is refunded; a lost one took its own amount back, so only the rest is.
// Nothing is written here: the next charging pass finds it given back in full (stray-given-back.ts)
// and lets it go, charging the invoice anew.
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import { fromMinorUnits } from './amount.ts';
import { STRAY_PAYMENT } from './decide.ts';
import type { ChargeGateway, RefundGateway, ReportedDispute, ReportedIntent } from './gateway-calls.ts';
import { givenBack } from './stray-given-back.ts';

export interface StrayRefundDeps {
  pool: pg.Pool;
  gateway: Pick<ChargeGateway, 'retrievePaymentIntent' | 'listDisputes'> & RefundGateway;
  log: Logger;
}

export type StrayRefund =
  | { outcome: 'refunded'; paymentIntentId: string; refundId: string; amount: string; currency: string; message: string }
  | {
      outcome: 'refused';
      reason: 'no_invoice' | 'not_stray' | 'dispute_open' | 'given_back' | 'not_succeeded' | 'gateway_refused' | 'unanswered';
      message: string;
    };

/** What a refund may take of a stray payment now, or why none: pure. */
export type RefundPlan =
  | { refund: number }
  | { refuse: 'dispute_open'; dispute: ReportedDispute }
  | { refuse: 'given_back' }
  | { refuse: 'not_succeeded' };

/** A chargeback not decided yet that the gateway says blocks refunds (an inquiry does not: it is refundable). */
const blocksRefund = (d: ReportedDispute) => d.status !== 'won' && d.status !== 'lost' && d.refundable !== true;

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

/** The invoice's stray PaymentIntent, if its charge row holds one. */
async function strayOf(pool: pg.Pool, invoiceId: string): Promise<{ found: boolean; stray: string | null }> {
  const { rows } = await pool.query<{ payment_intent_id: string | null; last_error_code: string | null }>(
    `select c.payment_intent_id, c.last_error_code
       from invoicing.invoices i left join invoicing.charges c on c.invoice_id = i.id
      where i.id = $1`,
    [invoiceId],
  );
  const row = rows[0];
  if (!row) return { found: false, stray: null };
  return { found: true, stray: row.last_error_code === STRAY_PAYMENT ? row.payment_intent_id : null };
}

const disputeWords = (disputes: readonly ReportedDispute[]) =>
  disputes.length === 0 ? 'no dispute' : disputes.map((d) => `${d.id} (${d.status})`).join(', ');

/** Refunds what is left of the invoice's stray payment, or says why nothing was. */
export async function refundStray(deps: StrayRefundDeps, invoiceId: string): Promise<StrayRefund> {
  const held = await strayOf(deps.pool, invoiceId);
  if (!held.found) return { outcome: 'refused', reason: 'no_invoice', message: `no invoice ${invoiceId}` };
  const id = held.stray;
  if (!id) {
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
  // One key per state of the payment: run again before the gateway answered, the same refund; after, the next state's.
  const made = await deps.gateway.refund({
    paymentIntentId: id,
    amount: plan.refund,
    idempotencyKey: `stray-refund:${id}:${back.refunded}:${back.chargedBack}`,
    metadata: { invoice_id: invoiceId, reason: 'stray_payment' },
  });
  if ('error' in made) {
    const answer = made.error;
    if (answer.kind === 'unanswered') return unanswered('the refund', answer.code);
    const code = answer.kind === 'succeeded' ? 'succeeded' : answer.code;
    return {
      outcome: 'refused',
      reason: 'gateway_refused',
      message: `the gateway refused to refund ${money(plan.refund)} of ${what} (${code}); its disputes when read: ${disputeWords(disputes)}`,
    };
  }
  deps.log.info('charge.stray_refunded', {
    invoice_id: invoiceId,
    payment_intent: id,
    refund: made.id,
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
    message:
      `refunded ${money(made.amount)} of ${what}: refund ${made.id}` +
      (back.refunded + back.chargedBack > 0
        ? `; given back before: refunded ${money(back.refunded)}, charged back ${money(back.chargedBack)}`
        : '') +
      (disputes.length > 0 ? `; disputes: ${disputeWords(disputes)}` : '') +
      '. The next charging pass lets it go and charges the invoice anew',
  };
}

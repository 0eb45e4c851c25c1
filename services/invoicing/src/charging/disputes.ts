// Chargebacks the gateway reports (charge.dispute.funds_withdrawn and
// charge.dispute.funds_reinstated): the cardholder's bank took a paid
// invoice's money back, and may give it back when the dispute is won. Stripe
// sends no charge.refunded for either, so without these the invoice read as
// paid in full while the money was gone. Recorded per dispute id (migration
// 028), matched to the invoice only through our own records: the dispute's
// PaymentIntent must be the one our charge row holds for a paid (or refunded)
// invoice, in its currency, for at most its total, and the invoice's disputes
// together for at most what its payment received (its total too). The
// invoice's status and the account's standing do not move: a chargeback is the
// bank's decision, not a failed payment, and operators follow it up with the gateway.
// A fraudulent one's withdrawal also blocks the card that paid, whatever the match (dispute-block.ts).
import type pg from 'pg';
import { z } from 'zod';
import { withTransaction } from '@vault/db';
import { fromMinorUnits, minorUnits } from './amount.ts';
import { STRAY_PAYMENT } from './decide.ts';
import { blockDisputedCard } from './dispute-block.ts';
import { amountDisputedSql } from './dispute-sums.ts';
import { warnIfLateCredited } from './refund-after-late-credit.ts';
import { invoiceOfPaymentIntent } from './refunds.ts';
import { recordEvent } from './store.ts';
import type { EventHandlerDeps, GatewayEvent, Outcome } from './webhooks.ts';

export const DISPUTE_WITHDRAWN = 'charge.dispute.funds_withdrawn';
export const DISPUTE_REINSTATED = 'charge.dispute.funds_reinstated';

/** The dispute events that move money, the two recorded; the others (created, updated, closed) are ignored as any other type. */
export const isDisputeMovement = (type: string) => type === DISPUTE_WITHDRAWN || type === DISPUTE_REINSTATED;

/** An id, or the object it stands for when the event was sent with it expanded. */
const Ref = z.union([z.string().min(1), z.object({ id: z.string().min(1) }).transform((o) => o.id)]);

/** A Dispute object: the part invoicing reads. */
const Dispute = z.object({
  id: z.string().min(1),
  object: z.literal('dispute'),
  /** Minor units. */
  amount: z.number().int().positive(),
  currency: z.string().min(1),
  charge: Ref,
  payment_intent: Ref.nullable().optional(),
  reason: z.string().nullable().optional(),
});
type Dispute = z.infer<typeof Dispute>;

/** How long after its event a chargeback may wait for its invoice's payment (Stripe retries for three days). */
const WAITS_SECONDS = 3 * 86_400;

type DisputeOutcome = Outcome & {
  dispute_id?: string;
  amount_disputed?: string;
  /** Set when the invoice's disputes now withdraw more than its payment received (DISPUTES_EXCEED_PAYMENT): that payment. */
  paid?: string;
  /** A fraudulent dispute's withdrawal blocked the payment method that paid (dispute-block.ts). */
  card_blocked?: string;
};

/** The invoice's disputes withdraw more than its payment received: recorded all the same, and warned. */
export const DISPUTES_EXCEED_PAYMENT = 'disputes_exceed_payment';

/**
 * One dispute event, in one transaction that locks the invoice first (as
 * every transaction on an invoice does) and records the event by id, so a
 * redelivery is a duplicate. Withdrawal and reinstatement each set their own
 * column of the dispute's row once: either may come first, and the amount
 * disputed (withdrawn, not reinstated) comes out the same. A dispute of one of
 * our PaymentIntents whose invoice is not paid yet (its payment's event not in)
 * waits as a refund does: `before_payment`, not recorded, delivered again.
 */
export async function handleDispute(deps: EventHandlerDeps, event: z.infer<typeof GatewayEvent>): Promise<DisputeOutcome> {
  const parsed = Dispute.safeParse(event.data.object);
  const dispute = parsed.success ? parsed.data : undefined;
  const paymentIntent = dispute?.payment_intent ?? null;
  // Read before the transaction: the invoice's lock must be its first.
  const invoiceId = paymentIntent ? await invoiceOfPaymentIntent(deps.pool, paymentIntent) : undefined;
  const nowMs = deps.now?.() ?? Date.now();
  // Dated when the gateway made the event (the catch-up may find it days later).
  const at = new Date(event.created === undefined ? nowMs : event.created * 1000);
  // First, and whatever the invoice makes of the dispute: a fraudulent one's card is blocked.
  const card = dispute ? await blockDisputedCard(deps, event, dispute, at) : {};
  const outcome = await withTransaction(
    deps.pool,
    async (client): Promise<DisputeOutcome> => {
      if (!dispute || !invoiceId) {
        if (!(await recordEvent(client, event))) return { outcome: 'duplicate' };
        return dispute
          ? { outcome: 'stray', reason: 'unknown_payment_intent', payment_intent: paymentIntent ?? 'none', dispute_id: dispute.id }
          : { outcome: 'not_a_dispute' };
      }
      const invoice = await lockInvoice(client, invoiceId);
      if (!(await recordEvent(client, event))) return { outcome: 'duplicate' };
      const stray = (reason: string): DisputeOutcome => ({ outcome: 'stray', reason, invoice_id: invoiceId, dispute_id: dispute.id });
      if (invoice.payment_intent_id !== paymentIntent) return stray('not_its_payment_intent');
      // A stray payment held on the row never pays the invoice (save-payment.ts): its chargeback is not the
      // invoice's, and waiting for a payment that never comes would only have it delivered for three days.
      // A lost one releases it: the charger reads the gateway's disputes, not this event (stray-given-back.ts).
      // Its card was charged all the same: reported stolen, it was blocked above, before the release charges it again.
      if (invoice.last_error_code === STRAY_PAYMENT) return stray(STRAY_PAYMENT);
      if (dispute.currency.toUpperCase() !== invoice.currency.toUpperCase()) return stray('currency_mismatch');
      if (dispute.amount > minorUnits(invoice.total, invoice.currency)) return stray('more_than_total');
      if (invoice.status !== 'paid' && invoice.status !== 'refunded') {
        // Rolled back with the event's record, so its redelivery is handled; a payment that has not
        // come while the gateway retries will not: then it is stray, for operators.
        const age = event.created === undefined ? 0 : nowMs / 1000 - event.created;
        if (age < WAITS_SECONDS) throw new BeforePayment(invoiceId);
        return stray('not_paid');
      }
      return recordDispute(client, invoiceId, invoice, dispute, event, at);
    },
    { log: deps.log, name: 'charging.dispute_webhook' },
  ).catch((err: unknown): DisputeOutcome => {
    if (err instanceof BeforePayment) return { outcome: 'before_payment', invoice_id: err.invoiceId };
    throw err;
  });
  tellOperators(deps, event, dispute, outcome);
  // After the commit: a chargeback of a month already given late credits is for operators to settle.
  if (outcome.outcome === 'dispute_withdrawn' && outcome.invoice_id)
    await warnIfLateCredited(deps, { event_id: event.id, invoice_id: outcome.invoice_id, by: 'chargeback' });
  return { ...outcome, ...card };
}

/** The invoice locked (FOR UPDATE, as lockInvoice), with what a dispute is checked against. */
async function lockInvoice(client: pg.PoolClient, invoiceId: string) {
  const { rows } = await client.query<{
    status: string;
    total: string;
    currency: string;
    payment_intent_id: string | null;
    last_error_code: string | null;
  }>(
    `select i.status, i.total::text as total, i.currency, c.payment_intent_id, c.last_error_code
       from invoicing.invoices i left join invoicing.charges c on c.invoice_id = i.id
      where i.id = $1
        for update of i`,
    [invoiceId],
  );
  return rows[0]!;
}

async function recordDispute(
  client: pg.PoolClient,
  invoiceId: string,
  invoice: { currency: string; total: string },
  dispute: Dispute,
  event: { id: string; type: string },
  at: Date,
): Promise<DisputeOutcome> {
  const { currency } = invoice;
  const withdrawn = event.type === DISPUTE_WITHDRAWN;
  const [atColumn, eventColumn] = withdrawn ? ['withdrawn_at', 'withdrawn_event'] : ['reinstated_at', 'reinstated_event'];
  const amount = fromMinorUnits(dispute.amount, currency);
  // The first event of its kind sets the column; another (a second copy under a new id) changes nothing.
  const { rows } = await client.query<{ invoice_id: string; changed: boolean }>(
    `insert into invoicing.invoice_disputes
       (dispute_id, invoice_id, payment_intent_id, charge_id, amount, currency, reason, ${atColumn}, ${eventColumn})
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     on conflict (dispute_id) do update
       set ${atColumn} = coalesce(invoice_disputes.${atColumn}, excluded.${atColumn}),
           ${eventColumn} = coalesce(invoice_disputes.${eventColumn}, excluded.${eventColumn})
     returning invoice_id, ${eventColumn} = $9 as changed`,
    [dispute.id, invoiceId, dispute.payment_intent, dispute.charge, amount, currency.toUpperCase(), dispute.reason ?? null, at, event.id],
  );
  const row = rows[0]!;
  if (row.invoice_id !== invoiceId) return { outcome: 'stray', reason: 'other_invoice', invoice_id: invoiceId, dispute_id: dispute.id };
  const sum = await client.query<{ amount_disputed: string }>(
    `select ${amountDisputedSql('i')} as amount_disputed from invoicing.invoices i where i.id = $1`,
    [invoiceId],
  );
  const amountDisputed = sum.rows[0]!.amount_disputed;
  const exceeds = minorUnits(amountDisputed, currency) > minorUnits(invoice.total, currency);
  return {
    outcome: !row.changed ? 'unchanged' : withdrawn ? 'dispute_withdrawn' : 'dispute_reinstated',
    invoice_id: invoiceId,
    dispute_id: dispute.id,
    amount_disputed: amountDisputed,
    ...(exceeds ? { paid: invoice.total } : {}),
  };
}

/** A chargeback recorded is told to operators (warned: money the invoice shows as paid is gone); a reinstatement too. */
function tellOperators(deps: EventHandlerDeps, event: { id: string }, dispute: Dispute | undefined, outcome: DisputeOutcome): void {
  if (dispute && outcome.paid !== undefined && outcome.outcome === 'dispute_withdrawn') {
    // The gateway's withdrawals are on the books as it reports them (it took the money); more than the
    // payment received is for operators to take up with the gateway (a charge is disputed once).
    deps.log.warn('charge.disputes_exceed_payment', {
      event_id: event.id,
      invoice_id: outcome.invoice_id ?? 'none',
      dispute_id: dispute.id,
      amount: fromMinorUnits(dispute.amount, dispute.currency),
      currency: dispute.currency.toUpperCase(),
      amount_disputed: outcome.amount_disputed ?? 'none',
      paid: outcome.paid,
      reason: DISPUTES_EXCEED_PAYMENT,
      'count#charge.disputes_exceed_payment': 1,
    });
  }
  if (!dispute || (outcome.outcome !== 'dispute_withdrawn' && outcome.outcome !== 'dispute_reinstated')) return;
  const fields = {
    event_id: event.id,
    invoice_id: outcome.invoice_id ?? 'none',
    dispute_id: dispute.id,
    amount: fromMinorUnits(dispute.amount, dispute.currency),
    currency: dispute.currency.toUpperCase(),
    reason: dispute.reason ?? 'none',
    amount_disputed: outcome.amount_disputed ?? 'none',
  };
  if (outcome.outcome === 'dispute_withdrawn')
    deps.log.warn('charge.dispute_withdrawn', { ...fields, 'count#charge.dispute_withdrawn': 1 });
  else deps.log.info('charge.dispute_reinstated', { ...fields, 'count#charge.dispute_reinstated': 1 });
}

/** An invoice's chargebacks as its page tells them: each withdrawn one, and whether it was reinstated. */
export interface Chargeback {
  amount: string;
  reinstated: boolean;
}

export async function chargebacksOf(db: pg.Pool | pg.PoolClient, invoiceId: string): Promise<Chargeback[]> {
  const { rows } = await db.query<{ amount: string; reinstated: boolean }>(
    `select amount::text, reinstated_at is not null as reinstated from invoicing.invoice_disputes
      where invoice_id = $1 and withdrawn_at is not null order by withdrawn_at, dispute_id`,
    [invoiceId],
  );
  return rows;
}

class BeforePayment extends Error {
  constructor(readonly invoiceId: string) {
    super(`invoice ${invoiceId} is not paid yet`);
  }
}

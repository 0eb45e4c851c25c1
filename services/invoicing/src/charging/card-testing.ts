// Card testing through an invoice's payment page. cc-forms hands the cardholder
// the client secret of the invoice's PaymentIntent; with the publishable key
// that secret confirms it again and again, each time with another card (Stripe
// allows it), and each stolen card's answer came back to us as a
// payment_intent.payment_failed that was logged at info and counted nowhere.
// Each decline of a card that is not one charging uses is counted per invoice
// (foreign_card_declines, once per event id) and warned; past
// CARD_ATTEMPTS_PER_HOUR within an hour the PaymentIntent is canceled at the
// gateway, so its client secret is dead, and the charge row lets it go: the
// next attempt (the card on file once the hour has passed, or a new card at
// once) makes a new one through the charger's usual path.
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import type { Logger } from '@vault/runtime';
import { CARD_REPORTED_FRAUDULENT } from './blocked-cards.ts';
import type { ChargeRow } from './decide.ts';
import type { ChargeGateway } from './gateway-calls.ts';
import { paidByCardholder } from './paid-by-cardholder.ts';
import { type FailedIntent, failureOf } from './payment-failed.ts';
import { lockInvoice, readChargeRow, writeCharge } from './store.ts';

/** The window CARD_ATTEMPTS_PER_HOUR counts in, as cc-forms' card attempts. */
export const FOREIGN_CARD_WINDOW_SECONDS = 3600;

/** What the event handlers need: the limit always; the gateway to cancel at once (without it, the next pass does). */
export interface CardTesting {
  /** CARD_ATTEMPTS_PER_HOUR: other cards an invoice's payment may be declined for in an hour. */
  limit: number;
  gateway?: ChargeGateway | undefined;
}

/** cc-forms' CARD_ATTEMPTS_PER_HOUR default: route tests' webhooks, built without the app's settings. */
export const DEFAULT_CARD_TESTING: CardTesting = { limit: 10 };

/** One other card's decline, counted. */
export interface ForeignDecline {
  invoiceId: string;
  paymentIntentId: string;
  paymentMethodId: string;
  /** This invoice's other-card declines within the hour before its latest one, this one included. */
  declines: number;
  limit: number;
  /** Past the limit: the PaymentIntent is to be canceled (revoked_payment_intents). */
  revoke: boolean;
}

/**
 * In the payment_failed transaction, after the invoice's lock and the paysInvoice check: a card's
 * decline (or failed check) of the invoice's own PaymentIntent by a card that is neither the one
 * charging tries (pending or last) nor the account's card on file is counted, once per event id.
 * Past `limit` within an hour its PaymentIntent is recorded as revoked. Undefined: not counted.
 * `letGo`: a PaymentIntent the row let go of (letGoOf: canceled, or paid and given back, so the
 * decline came before): still counted, the invoice's hour being every card tried on its page by the
 * gateway's time, but never revoked again (nothing is left to cancel).
 */
export async function countForeignDecline(
  client: pg.PoolClient,
  invoiceId: string,
  intent: FailedIntent,
  event: { id: string; created?: number | undefined },
  at: Date,
  limit: number,
  letGo = false,
): Promise<ForeignDecline | undefined> {
  const failure = failureOf(intent);
  if (failure.kind !== 'declined' && failure.kind !== 'authentication_failed') return undefined;
  const paymentMethodId = failure.paymentMethodId;
  const row = await readChargeRow(client, invoiceId);
  if (!paymentMethodId || !row || row.state === 'paid' || (!letGo && row.paymentIntentId !== intent.id)) return undefined;
  if (paymentMethodId === row.lastPaymentMethodId || paymentMethodId === row.pendingPaymentMethodId) return undefined;
  // The card put on file since the ask: the page pays with it before the next pass tries it.
  if (paymentMethodId === (await cardOnFile(client, invoiceId))) return undefined;
  // The gateway's time of the decline: the catch-up finds events late, and late ones were not an hour's burst.
  const declinedAt = event.created === undefined ? at : new Date(event.created * 1000);
  await client.query(
    `insert into invoicing.foreign_card_declines (event_id, invoice_id, payment_intent_id, payment_method_id, declined_at)
     values ($1, $2, $3, $4, $5) on conflict (event_id) do nothing`,
    [event.id, invoiceId, intent.id, paymentMethodId, declinedAt],
  );
  // The hour before the latest decline, not before this one: deliveries come in any order.
  const { rows } = await client.query<{ declines: number; latest: Date }>(
    `with latest as (select max(declined_at) as at from invoicing.foreign_card_declines where invoice_id = $1)
     select count(*)::int as declines, (select at from latest) as latest
       from invoicing.foreign_card_declines
      where invoice_id = $1 and declined_at > (select at from latest) - make_interval(secs => $2)`,
    [invoiceId, FOREIGN_CARD_WINDOW_SECONDS],
  );
  const declines = rows[0]?.declines ?? 1;
  const revoke = !letGo && declines > limit;
  if (revoke) {
    // Tried again no sooner than an hour after the burst's latest decline (now, when that is past).
    await client.query(
      `insert into invoicing.revoked_payment_intents (payment_intent_id, invoice_id, revoked_at, retry_at)
       values ($1, $2, $3, greatest($3, $4::timestamptz + make_interval(secs => $5))) on conflict (payment_intent_id) do nothing`,
      [intent.id, invoiceId, at, rows[0]?.latest ?? at, FOREIGN_CARD_WINDOW_SECONDS],
    );
  }
  return { invoiceId, paymentIntentId: intent.id, paymentMethodId, declines, limit, revoke };
}

/** The payment method of the invoice's account's card on file, when cc-forms publishes its view. */
async function cardOnFile(client: pg.PoolClient, invoiceId: string): Promise<string | undefined> {
  const view = await client.query<{ present: boolean }>(`select to_regclass('cc_forms.cards_on_file') is not null as present`);
  if (!view.rows[0]?.present) return undefined;
  const { rows } = await client.query<{ payment_method_id: string }>(
    `select k.payment_method_id from cc_forms.cards_on_file k join invoicing.invoices i on i.account_id = k.account_id where i.id = $1`,
    [invoiceId],
  );
  return rows[0]?.payment_method_id;
}

/** What the handler's outcome says of it (the webhook.received line). */
export const foreignFields = (d: ForeignDecline | undefined) =>
  d ? { foreign_declines: d.declines, ...(d.revoke ? { revoked: d.paymentIntentId } : {}) } : {};

export interface RevokeDeps {
  pool: pg.Pool;
  log: Logger;
  gateway: ChargeGateway;
  now?: (() => Date) | undefined;
}

/**
 * After the transaction that counted it: warned (operators see the testing as it happens), and
 * past the limit its PaymentIntent canceled now when the gateway is at hand (else the next pass).
 */
export async function afterForeignDecline(
  deps: { pool: pg.Pool; log: Logger; now?: (() => number) | undefined; cardTesting?: CardTesting | undefined },
  d: ForeignDecline,
): Promise<void> {
  deps.log.warn('charge.foreign_card_declined', {
    invoice_id: d.invoiceId,
    payment_intent: d.paymentIntentId,
    payment_method: d.paymentMethodId,
    declines_in_hour: d.declines,
    limit: d.limit,
    'count#charges.foreign_card_declined': 1,
  });
  const gateway = deps.cardTesting?.gateway;
  if (!d.revoke || !gateway) return;
  const now = deps.now;
  const revokeDeps = { pool: deps.pool, log: deps.log, gateway, now: now && (() => new Date(now())) };
  // The event is recorded already: a failure here is not the delivery's, and the next pass cancels it.
  await revokePaymentIntent(revokeDeps, d.invoiceId, d.paymentIntentId).catch((err: unknown) =>
    deps.log.error('charge.revoke_failed', err, { invoice_id: d.invoiceId, payment_intent: d.paymentIntentId }),
  );
}

/**
 * Every PaymentIntent revoked and not settled yet (its cancel failed, or no gateway was at hand):
 * the charging pass's, before its candidates are read, so the row it reads has let it go.
 */
export async function revokeUnsettled(deps: RevokeDeps): Promise<void> {
  const { rows } = await deps.pool.query<{ payment_intent_id: string; invoice_id: string }>(
    `select payment_intent_id, invoice_id from invoicing.revoked_payment_intents where settled_at is null order by revoked_at limit 100`,
  );
  for (const r of rows) {
    await revokePaymentIntent(deps, r.invoice_id, r.payment_intent_id).catch((err: unknown) =>
      deps.log.error('charge.revoke_failed', err, { invoice_id: r.invoice_id, payment_intent: r.payment_intent_id }),
    );
  }
}

/**
 * Whether a row whose PaymentIntent is revoked is charged again at retry_at: one waiting for the
 * cardholder, and a past-due one its card was declined (or refused) for, whose PaymentIntent was
 * its only way to be paid (no page offers another). One past due for want of a usable card (none
 * on file, or the one on file reported stolen) keeps waiting for one: a card put on file is
 * charged at once anyway. A scheduled row keeps its own next attempt.
 */
function chargesAgain(row: ChargeRow): boolean {
  if (row.state === 'action_required') return true;
  return row.state === 'past_due' && row.lastErrorCode !== 'no_card_on_file' && row.lastErrorCode !== CARD_REPORTED_FRAUDULENT;
}

/**
 * Cancels a revoked PaymentIntent at the gateway, then lets the charge row go of it. Paid meanwhile
 * (the gateway will not cancel a succeeded one): recorded as paid, as its webhook would
 * (paidByCardholder), never canceled. Canceled: a row still holding it, with no attempt in flight,
 * drops it under a new key (the old one named its create and confirms); a row waiting for the
 * cardholder, or past due for its card's declines (chargesAgain), is scheduled for the revocation's
 * retry_at, so the invoice is payable again (the card on file charged then on a new PaymentIntent,
 * once, as the round's last attempt: declined, past due again; the bank asking, the page's button;
 * a new card at once) and never twice: the old PaymentIntent can no longer be paid.
 * An attempt in flight on it is left to the charger, whose confirm is refused as canceled and
 * replaces it (PAYMENT_INTENT_CANCELED). No answer: left unsettled, asked again by the next pass.
 */
export async function revokePaymentIntent(
  deps: RevokeDeps,
  invoiceId: string,
  paymentIntentId: string,
): Promise<'canceled' | 'paid' | 'not_paid' | 'left'> {
  const canceled = await deps.gateway.cancelPaymentIntent(paymentIntentId);
  if (canceled === 'succeeded') {
    const paid = await paidByCardholder({ ...deps, retrySchedule: [] }, invoiceId, paymentIntentId);
    if (paid === 'unanswered') return 'left';
    // Succeeded, it can never be confirmed again: nothing left to cancel (a stray success is logged there).
    await deps.pool.query('update invoicing.revoked_payment_intents set settled_at = now() where payment_intent_id = $1', [
      paymentIntentId,
    ]);
    return paid === 'paid' ? 'paid' : 'not_paid';
  }
  if (canceled !== 'canceled') {
    deps.log.warn('charge.cancel_failed', { invoice_id: invoiceId, payment_intent: paymentIntentId, code: canceled.error });
    return 'left';
  }
  const at = deps.now?.() ?? new Date();
  const settled = await withTransaction(
    deps.pool,
    async (client) => {
      await lockInvoice(client, invoiceId);
      const { rows } = await client.query<{ retry_at: Date }>(
        `update invoicing.revoked_payment_intents set settled_at = now()
          where payment_intent_id = $1 and settled_at is null returning retry_at`,
        [paymentIntentId],
      );
      const retryAt = rows[0]?.retry_at;
      if (!retryAt) return undefined; // settled by another process meanwhile
      const row = await readChargeRow(client, invoiceId);
      if (!row || row.state === 'paid' || row.paymentIntentId !== paymentIntentId || row.pendingPaymentMethodId) return { retryAt };
      const { actionRequiredAt: _, ...kept } = row;
      const next: ChargeRow = chargesAgain(row)
        ? { ...kept, paymentIntentId: null, state: 'scheduled', nextAttemptAt: retryAt }
        : { ...kept, paymentIntentId: null };
      await writeCharge(client, invoiceId, next, { at }, true);
      return { retryAt, state: next.state };
    },
    { log: deps.log, name: 'charging.revoke_payment_intent' },
  );
  if (settled) {
    deps.log.warn('charge.payment_intent_revoked', {
      invoice_id: invoiceId,
      payment_intent: paymentIntentId,
      retry_at: settled.retryAt.toISOString(),
      charge_state: settled.state ?? 'kept',
      'count#charges.payment_intents_revoked': 1,
    });
  }
  return 'canceled';
}

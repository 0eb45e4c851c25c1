// A chargeback for fraud blocks the card that paid (blocked-cards.ts), decided from the dispute alone:
// its PaymentIntent must be one a charge row of ours holds or held (migration 032's
// charge_payment_intents: a released stray's old one too), whatever its invoice makes of it (another
// currency, more than its total, its payment not recorded yet, a stray). Before, the card was blocked
// only once the dispute matched its invoice, by the payment method our row said, so those blocked
// nothing, and the same card typed in again (a new payment method) was charged at once.
// The card is the gateway's word (the dispute read back with its charge), not the webhook body's; when
// the gateway will not say, our own row's card (card-of-record.ts), so the dispute is never held hostage
// to the read. Once blocked, the PaymentIntents waiting for a cardholder on it are revoked (block-revokes.ts).
import { withTransaction } from '@vault/db';
import { blockPaymentMethod, FRAUDULENT } from './blocked-cards.ts';
import { revokeWaitingOnBlocked } from './block-revokes.ts';
import { tellBlockedElsewhere } from './blocked-elsewhere.ts';
import { cardOfRecord } from './card-of-record.ts';
import type { DisputeGateway } from './dispute-gateway.ts';
import { lockInvoice } from './store.ts';
import type { EventHandlerDeps } from './webhooks.ts';

/** Blocked now (its payment method), or nothing to block (`{}`). */
export type CardBlock = { card_blocked?: string };

type Deps = EventHandlerDeps & { disputes?: DisputeGateway | undefined };

/**
 * For a `charge.dispute.funds_withdrawn` whose dispute is `fraudulent` (the body says so, and then the
 * gateway), of a PaymentIntent of ours: blocks the payment method and fingerprint of the disputed
 * charge, in a transaction of its own that locks that PaymentIntent's invoice first, before the
 * dispute's own (which may wait for the payment, or find it stray). The gateway is read before it,
 * outside any transaction. Idempotent (blockPaymentMethod).
 */
export async function blockDisputedCard(
  deps: Deps,
  event: { id: string; type: string },
  body: { id: string; payment_intent?: string | null | undefined; reason?: string | null | undefined },
  at: Date,
): Promise<CardBlock> {
  const paymentIntent = body.payment_intent ?? null;
  if (event.type !== 'charge.dispute.funds_withdrawn' || body.reason !== FRAUDULENT || !paymentIntent) return {};
  // An event handled already (recorded by id) blocked its card then: a redelivery reads nothing.
  const { rows } = await deps.pool.query<{ invoice_id: string; account_id: string }>(
    `select p.invoice_id, i.account_id from invoicing.charge_payment_intents p join invoicing.invoices i on i.id = p.invoice_id
      where p.payment_intent_id = $1 and not exists (select 1 from invoicing.gateway_events e where e.id = $2)`,
    [paymentIntent, event.id],
  );
  const ours = rows[0];
  if (!ours) return {};
  const fields = { event_id: event.id, invoice_id: ours.invoice_id, dispute_id: body.id, payment_intent: paymentIntent };
  const read = deps.disputes ? await deps.disputes.disputedCharge(body.id) : { error: 'no_gateway' };
  let card: { paymentMethodId: string; fingerprint: string | null } | undefined;
  if ('error' in read) {
    // Acknowledged all the same (the dispute is recorded): the card our row says paid is blocked instead.
    card = await cardOfRecord(deps.pool, paymentIntent);
    deps.log.warn('charge.card_block_unread', {
      ...fields,
      code: read.error,
      blocked: card?.paymentMethodId ?? 'none',
      by_fingerprint: Boolean(card?.fingerprint),
      'count#charge.card_block_unread': 1,
    });
    if (!card) return {};
  } else if (read.reason !== FRAUDULENT || read.paymentIntentId !== paymentIntent || !read.paymentMethodId) {
    deps.log.warn('charge.card_not_blocked', {
      ...fields,
      reason: read.reason ?? 'none',
      gateway_payment_intent: read.paymentIntentId ?? 'none',
      payment_method: read.paymentMethodId ?? 'none',
    });
    return {};
  } else card = { paymentMethodId: read.paymentMethodId, fingerprint: read.fingerprint };
  const block = {
    paymentMethodId: card.paymentMethodId,
    fingerprint: card.fingerprint,
    accountId: ours.account_id,
    disputeId: body.id,
    reason: FRAUDULENT,
    at,
  };
  const blocked = await withTransaction(
    deps.pool,
    async (client) => {
      await lockInvoice(client, ours.invoice_id);
      return blockPaymentMethod(client, block);
    },
    { log: deps.log, name: 'charging.card_block' },
  );
  // Revoked whether new or not (idempotent): a crash after the block's commit must not leave them offered.
  // The event is recorded next whatever this does: a failed revoke is the next pass's (revokeUnsettled).
  await revokeWaitingOnBlocked(deps, block, at).catch((err: unknown) =>
    deps.log.error('charge.revoke_failed', err, { dispute_id: body.id, payment_method: card.paymentMethodId }),
  );
  if (!blocked) return {};
  deps.log.warn('charge.card_blocked', {
    event_id: event.id,
    invoice_id: ours.invoice_id,
    dispute_id: body.id,
    payment_method: card.paymentMethodId,
    reason: FRAUDULENT,
    by_fingerprint: card.fingerprint !== null,
    'count#charge.card_blocked': 1,
  });
  await tellBlockedElsewhere(deps, block).catch((err: unknown) =>
    deps.log.error('charge.card_blocked_elsewhere_failed', err, { dispute_id: body.id }),
  );
  return { card_blocked: card.paymentMethodId };
}

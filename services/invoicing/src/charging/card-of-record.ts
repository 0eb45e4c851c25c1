// The card a PaymentIntent of ours was paid with, by our own records: what a fraudulent chargeback
// blocks when the gateway will not say (dispute-block.ts: a restricted key without Disputes read, a
// lasting 4xx, an outage). Holding the event until the gateway answers left the chargeback unrecorded
// (the invoice read paid in full), the webhook failing for Stripe's three days and the card charged
// again meanwhile; our row's card is the one that paid, and cc-forms' view gives its fingerprint while
// it is on file.
import type pg from 'pg';
import { ccFormsReady } from './cc-forms-schema.ts';

/** The payment method the charge row holding `paymentIntentId` last used, and its card's fingerprint if cc-forms has it. */
export async function cardOfRecord(
  db: pg.Pool | pg.PoolClient,
  paymentIntentId: string,
): Promise<{ paymentMethodId: string; fingerprint: string | null } | undefined> {
  const { rows } = await db.query<{ pm: string | null }>(
    `select coalesce(last_payment_method_id, pending_payment_method_id) as pm from invoicing.charges where payment_intent_id = $1`,
    [paymentIntentId],
  );
  const paymentMethodId = rows[0]?.pm;
  if (!paymentMethodId) return undefined;
  // Before cc-forms' migration 007 its view has no fingerprint: the payment method alone is blocked.
  if (!(await ccFormsReady(db))) return { paymentMethodId, fingerprint: null };
  const card = await db.query<{ fingerprint: string | null }>(
    'select fingerprint from cc_forms.cards_on_file where payment_method_id = $1 and fingerprint is not null limit 1',
    [paymentMethodId],
  );
  return { paymentMethodId, fingerprint: card.rows[0]?.fingerprint ?? null };
}

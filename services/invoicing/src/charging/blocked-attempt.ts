// An attempt in flight whose card was reported stolen since it was chosen (blocked-cards.ts): its
// PaymentIntent is never confirmed with that card again. Replaying the confirm is what keeps an
// unanswered attempt from charging twice; here the card is not charged at all, so the PaymentIntent
// is canceled instead, and a success it had already (the confirm did reach the gateway) is recorded.
// And every attempt's card is read again just before it is sent (saveAttempt): one blocked mid-pass is not.
import { withTransaction } from '@vault/db';
import { isBlockedSql } from './blocked-cards.ts';
import type { ChargerDeps, PassReport } from './charger.ts';
import { pastDueWithoutCard, type ChargeableInvoice, type ChargeRow } from './decide.ts';
import { type ChargeDb, lockInvoice, saveCharge, writeCharge } from './store.ts';

/** The fingerprint of payment method $2 when it is the card on file of invoice $1's account. */
const FINGERPRINT_OF_PENDING = `(select k.fingerprint from cc_forms.cards_on_file k join invoicing.invoices i on i.account_id = k.account_id
                                 where i.id = $1 and k.payment_method_id = $2)`;

type PaidByCardholder = (
  deps: ChargerDeps,
  invoiceId: string,
  paymentIntentId: string | null,
) => Promise<'paid' | 'waiting' | 'unanswered' | 'stray'>;

/**
 * Cancels the attempt's PaymentIntent and drops the attempt (a new key: the old one named that
 * PaymentIntent's confirm). `paid`: it had succeeded and is recorded as paid (paidByCardholder);
 * `left`: not settled here (no answer, processing, a stray success), the next pass tries again;
 * `settled`: paid meanwhile; else the row and key to decide on again, the card on file (or none) choosing what comes next.
 */
export async function dropBlockedAttempt(
  deps: ChargerDeps,
  invoiceId: string,
  charge: ChargeRow,
  paidByCardholder: PaidByCardholder,
): Promise<'paid' | 'left' | 'settled' | { row: ChargeRow; key: string }> {
  const paymentIntentId = charge.paymentIntentId!;
  const canceled = await deps.gateway.cancelPaymentIntent(paymentIntentId);
  if (canceled === 'succeeded') return (await paidByCardholder(deps, invoiceId, paymentIntentId)) === 'paid' ? 'paid' : 'left';
  if (canceled !== 'canceled') {
    deps.log.warn('charge.cancel_failed', { invoice_id: invoiceId, payment_intent: paymentIntentId, code: canceled.error });
    return 'left';
  }
  const { pendingBlocked: _, ...kept } = charge;
  const row: ChargeRow = { ...kept, paymentIntentId: null, pendingPaymentMethodId: null };
  const key = await saveCharge(deps, invoiceId, row, {}, true);
  deps.log.warn('charge.blocked_attempt_dropped', {
    invoice_id: invoiceId,
    payment_intent: paymentIntentId,
    payment_method: charge.pendingPaymentMethodId ?? 'none',
  });
  return key === undefined ? 'settled' : { row, key }; // settled: paid meanwhile (a webhook), counted there
}

/**
 * An attempt's row before it is sent, under the invoice's lock: `write` saves `row` as saveCharge does
 * (`renew`: with a new key), `check` writes nothing (a replay whose row is saved already). Its card is read
 * again first: one reported stolen since the pass read the cards (a fraudulent chargeback of another
 * invoice, blocked-cards.ts) is not sent, and `ifBlocked` (past due, told) is written instead. The row's
 * key (undefined: paid meanwhile) or `blocked`.
 */
export async function saveAttempt(
  db: ChargeDb,
  invoiceId: string,
  row: ChargeRow,
  how: 'write' | 'renew' | 'check',
  ifBlocked: { row: ChargeRow; at: Date },
): Promise<{ key: string | undefined } | 'blocked'> {
  return withTransaction(
    db.pool,
    async (client) => {
      await lockInvoice(client, invoiceId);
      // The card's fingerprint is cc-forms' (its card on file); a card no longer on file matches by payment method.
      const { rows } = await client.query<{ blocked: boolean; key: string | null }>(
        `select ${isBlockedSql('$2', FINGERPRINT_OF_PENDING)} as blocked,
                (select idempotency_key from invoicing.charges where invoice_id = $1 and state <> 'paid') as key`,
        [invoiceId, row.pendingPaymentMethodId],
      );
      if (rows[0]?.blocked) {
        await writeCharge(client, invoiceId, ifBlocked.row, { invoiceStatus: 'past_due', at: ifBlocked.at }, false);
        return 'blocked';
      }
      if (how === 'check') return { key: rows[0]?.key ?? undefined };
      return { key: await writeCharge(client, invoiceId, row, {}, how === 'renew') };
    },
    { log: db.log, name: 'charging.save_attempt' },
  );
}

/**
 * saveAttempt for the pass: a card blocked since the pass read it is counted and warned, as the
 * pass's past-due-for-it invoices are. The row's key, or undefined: paid meanwhile, or its card blocked.
 */
export async function saveUnlessBlocked(
  deps: ChargerDeps,
  invoice: ChargeableInvoice,
  row: ChargeRow,
  how: 'write' | 'renew' | 'check',
  at: Date,
  report: PassReport,
): Promise<string | undefined> {
  const saved = await saveAttempt(deps, invoice.id, row, how, { row: pastDueWithoutCard(row, true), at });
  if (saved !== 'blocked') return saved.key;
  report.pastDue++;
  report.noCard++;
  deps.log.warn('charge.card_blocked_not_charged', {
    invoice_id: invoice.id,
    account_id: invoice.accountId,
    payment_method: row.pendingPaymentMethodId ?? 'none',
    'count#invoices.card_blocked': 1,
  });
  return undefined;
}

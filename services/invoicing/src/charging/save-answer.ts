// An attempt's answer (but a success: save-payment.ts) written by the charger (charger.ts
// recordAnswer), with what the pass counts and logs read under the invoice's lock in the same
// transaction: whether the bank asked again past the round's window (round-ask.ts), and whether the
// invoice moved to past_due now. The pass used to count it past due (count#invoices.past_due) and
// log charge.unauthenticated for an invoice past due already, at every revoke/ask cycle a card
// tester drove, though nothing moved and nothing was told. A late ask is `askedLate` for tell.ts: told by
// invoice.past_due alone (one email), never as an invoice.action_required already past due.
import { withTransaction } from '@vault/db';
import type { ChargeRow } from './decide.ts';
import { askedPastWindow, forgetRoundAsk, ROUND_ASKED_AT_SQL } from './round-ask.ts';
import { type ChargeDb, lockInvoice, writeCharge } from './store.ts';
import type { ChargeChange } from './tell.ts';

export interface SavedAnswer {
  /** The row's idempotency key; undefined when the row is paid (nothing written). */
  key: string | undefined;
  /** Asked again in the round after its window ended: the invoice is made past due with the answer. */
  late: boolean;
  /** The invoice moved to past_due with this answer (not past due before). */
  pastDue: boolean;
}

/**
 * Writes `charge` as saveCharge does, and reports what it did. `asks`: the answer asks for the
 * cardholder (its attempt's newRound, the 3-D Secure window in seconds). A PaymentIntent the row held
 * and `charge` lets go (canceled under the attempt) forgets the round's first ask unless card testing
 * revoked it (forgetRoundAsk).
 */
export async function saveAnswer(
  db: ChargeDb,
  invoiceId: string,
  charge: ChargeRow,
  change: ChargeChange & { at: Date },
  o: { renewKey: boolean; asks?: { newRound: boolean; window: number } | undefined },
): Promise<SavedAnswer> {
  return withTransaction(
    db.pool,
    async (client) => {
      await lockInvoice(client, invoiceId);
      const { rows } = await client.query<{ status: string; payment_intent_id: string | null; round_asked_at: Date | null }>(
        `select i.status, c.payment_intent_id, ${ROUND_ASKED_AT_SQL} as round_asked_at
           from invoicing.invoices i left join invoicing.charges c on c.invoice_id = i.id
          where i.id = $1`,
        [invoiceId],
      );
      const before = rows[0];
      const held = before?.payment_intent_id ?? null;
      const forgot = held !== null && held !== charge.paymentIntentId && (await forgetRoundAsk(client, invoiceId, held));
      // Read under the lock, not from the pass's candidate: after a stray released or a request canceled
      // (forgotten here, or by save-payment.ts) this ask has a window of its own.
      const first = forgot ? null : (before?.round_asked_at ?? null);
      const late = o.asks !== undefined && askedPastWindow(first, o.asks, change.at, o.asks.window);
      const key = await writeCharge(
        client,
        invoiceId,
        charge,
        late ? { ...change, invoiceStatus: 'past_due', askedLate: true } : change,
        o.renewKey,
      );
      if (key === undefined) return { key, late: false, pastDue: false };
      const after = await client.query<{ status: string }>('select status from invoicing.invoices where id = $1', [invoiceId]);
      return { key, late, pastDue: before?.status !== 'past_due' && after.rows[0]?.status === 'past_due' };
    },
    { log: db.log, name: 'charging.save_charge' },
  );
}

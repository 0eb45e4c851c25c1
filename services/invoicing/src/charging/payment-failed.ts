// `payment_intent.payment_failed` for an invoice waiting for its cardholder
// (action_required): the customer confirmed its PaymentIntent on cc-forms' page
// and the bank declined, or the 3-D Secure check failed. Without this the
// pages kept asking them to authenticate as if nothing had happened. Either
// way the row keeps waiting (the same PaymentIntent may be confirmed again, or
// another card put on file) until the authentication window ends (decide.ts).
import type pg from 'pg';
import { z } from 'zod';
import { AUTHENTICATION_FAILED } from './card-errors.ts';
import type { ChargeRow } from './decide.ts';
import { readChargeRow } from './store.ts';
import { tellChargeChange } from './tell.ts';

/** The event's object, as far as it is read: its invoice and amount are checked as a payment's are (paysInvoice). */
export const FailedIntent = z.object({
  id: z.string().min(1),
  object: z.literal('payment_intent'),
  amount: z.number().int(),
  currency: z.string().min(1),
  metadata: z.object({ invoice_id: z.string().min(1).optional() }).catchall(z.string()),
  last_payment_error: z
    .object({
      type: z.string().optional(),
      code: z.string().nullable().optional(),
      decline_code: z.string().nullable().optional(),
      message: z.string().nullable().optional(),
      payment_method: z
        .union([z.string(), z.object({ id: z.string() })])
        .nullable()
        .optional(),
    })
    .nullable()
    .optional(),
});
export type FailedIntent = z.infer<typeof FailedIntent>;

export type Failure =
  /** The off-session attempt asking for the cardholder: charging recorded it from the confirm's answer. */
  | { kind: 'asked' }
  /** The bank's answer after the cardholder authenticated: not paid; they may try again or use another card. */
  | { kind: 'declined'; code: string; declineCode: string | null; message: string; paymentMethodId: string | undefined }
  /** The 3-D Secure check failed: still payable with the same card, by authenticating again. */
  | { kind: 'authentication_failed'; code: string; message: string; paymentMethodId: string | undefined }
  /** Anything else (no error, not the card's): nothing to tell the customer. */
  | { kind: 'other' };

/** Codes asking for the cardholder, as answerOfError (gateway-calls.ts) reads a confirm's error. */
const ASKING = new Set(['authentication_required', 'requires_action']);

/** What the PaymentIntent's last_payment_error says happened. */
export function failureOf(intent: FailedIntent): Failure {
  const e = intent.last_payment_error;
  if (!e?.code) return { kind: 'other' };
  const paymentMethodId = typeof e.payment_method === 'string' ? e.payment_method : e.payment_method?.id;
  // A soft decline (card_declined with decline_code authentication_required) asks for the cardholder
  // too: the charger recorded it as action_required, and it is no answer of theirs.
  if (ASKING.has(e.code) || e.decline_code === 'authentication_required') return { kind: 'asked' };
  const message = e.message ?? e.code;
  if (e.code === AUTHENTICATION_FAILED) return { kind: 'authentication_failed', code: e.code, message, paymentMethodId };
  if (e.type !== 'card_error') return { kind: 'other' };
  return { kind: 'declined', code: e.code, declineCode: e.decline_code ?? null, message, paymentMethodId };
}

/** The charge row as this decision reads it. */
export interface WaitingRow {
  state: ChargeRow['state'];
  paymentIntentId: string | null;
  lastPaymentMethodId: string | null;
  actionRequiredAt: Date | null;
}

/**
 * Seconds an event may seem older than the request for the cardholder: the
 * two clocks agree that closely, as every accepted delivery's signature shows.
 */
const CLOCK_SKEW_SECONDS = 300;

/**
 * Why the failure does not apply to the row, or undefined when it does: only
 * while the row waits for its cardholder on that same PaymentIntent (not paid,
 * not another card's round), for the card they were asked to authenticate, and
 * not a late delivery of an earlier attempt's decline (made before the asking).
 */
export function notApplying(
  row: WaitingRow | undefined,
  intentId: string,
  failure: Extract<Failure, { kind: 'declined' | 'authentication_failed' }>,
  createdS: number | undefined,
): 'not_waiting' | 'another_card' | 'before_asking' | undefined {
  if (row?.state !== 'action_required' || row.paymentIntentId !== intentId) return 'not_waiting';
  if (failure.paymentMethodId && row.lastPaymentMethodId && failure.paymentMethodId !== row.lastPaymentMethodId) return 'another_card';
  const asked = row.actionRequiredAt?.getTime();
  if (createdS !== undefined && asked !== undefined && (createdS + CLOCK_SKEW_SECONDS) * 1000 < asked) return 'before_asking';
  return undefined;
}

/**
 * In the webhook's transaction, after the invoice's lock and the paysInvoice
 * check: a decline or a failed check is recorded on the row, which still waits
 * (action_required, the invoice's status unchanged), so the pages say what
 * happened and the invoice goes past due only when the window ends, as for a
 * request ignored. A decline is told as the asking attempt's payment_failed:
 * the charger never answers that attempt again (its next is attempts + 1), so
 * the id cannot meet one of its own; a second decline of it is not told again.
 * The PaymentIntent stays on the row, so its success afterwards pays the invoice.
 */
export async function recordPaymentFailure(
  client: pg.PoolClient,
  invoiceId: string,
  intent: FailedIntent,
  createdS: number | undefined,
  at: Date,
): Promise<{ outcome: string; reason?: string }> {
  const row = await readChargeRow(client, invoiceId);
  const failure = failureOf(intent);
  // The off-session attempt's own failure (it asked for the cardholder), or no card's answer.
  if (failure.kind === 'asked' || failure.kind === 'other') return { outcome: 'ignored', reason: failure.kind };
  const why = notApplying(row, intent.id, failure, createdS);
  if (why || !row) return { outcome: 'unchanged', reason: why ?? 'not_waiting' };
  const declineCode = failure.kind === 'declined' ? failure.declineCode : null;
  const after: ChargeRow = { ...row, lastErrorCode: failure.code, lastDeclineCode: declineCode, lastErrorMessage: failure.message };
  await client.query(
    `update invoicing.charges
        set last_error_code = $2, last_decline_code = $3, last_error_message = $4, updated_at = now()
      where invoice_id = $1`,
    [invoiceId, after.lastErrorCode, after.lastDeclineCode, after.lastErrorMessage],
  );
  if (failure.kind === 'authentication_failed') return { outcome: 'authentication_failed' };
  const answer = { kind: 'declined' as const, code: failure.code, declineCode, message: failure.message };
  await tellChargeChange(client, invoiceId, after, { at, answered: { attempt: row.attempts, answer } });
  return { outcome: 'declined' };
}

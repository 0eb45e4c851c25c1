// The invoices that may be due a charge, with their charge row and the account's card on file:
// the charging pass reads them a page at a time (candidate-pages.ts).
import type pg from 'pg';
import type { InvoiceStatus } from '@vault/contracts';
import { PAST_DUE_HOURLY_LOOKS_FOR_SECONDS, PAST_DUE_LOOK_EVERY_SECONDS, type ChargeRow, type ChargeStateName } from './decide.ts';
import { isBlockedSql } from './blocked-cards.ts';
import { ROUND_ASKED_AT_SQL } from './round-ask.ts';
import type { Candidate } from './store.ts';

type Db = pg.Pool | pg.PoolClient;

interface CandidateRow {
  id: string;
  account_id: string;
  number: string;
  status: InvoiceStatus;
  currency: string;
  total: string;
  has_charge: boolean;
  payment_intent_id: string | null;
  state: ChargeStateName | null;
  attempts: number | null;
  round_start: number | null;
  pending_payment_method_id: string | null;
  pending_blocked: boolean;
  last_payment_method_id: string | null;
  last_attempt_at: Date | null;
  next_attempt_at: Date | null;
  last_error_code: string | null;
  last_decline_code: string | null;
  last_error_message: string | null;
  customer_id: string | null;
  payment_method_id: string | null;
  card_blocked: boolean;
  idempotency_key: string | null;
  action_required_at: Date | null;
  round_asked_at: Date | null;
}

/**
 * Unpaid invoices with a positive total that may be due now: never tried, an
 * attempt pending, a retry due, or a card on file other than the one last
 * tried, or a cardholder asked to authenticate whose time is up (a past-due invoice's after
 * pastDueLookEvery: hourly for 30 days after the ask, then once a window; its PaymentIntent is looked at in case its webhook was lost). This is decide()'s rule
 * written as a filter, so a pass does not read every past_due invoice; decide() still has the last word on each row.
 * Reads `cc_forms.cards_on_file`, which cc-forms publishes. A card reported stolen (blocked-cards.ts)
 * counts as none in the filter, so an invoice made past due for it is not read again at every pass.
 */
/** The pending attempt's card's fingerprint: the card on file's, when it is still that card. */
const PENDING_FINGERPRINT = 'case when k.payment_method_id = c.pending_payment_method_id then k.fingerprint end';

const CANDIDATES = `
  select i.id, i.account_id, i.number, i.status, i.currency, i.total::text as total, i.finalized_at::text as cursor_at,
         c.invoice_id is not null as has_charge, c.payment_intent_id, c.state, c.attempts, c.round_start,
         c.pending_payment_method_id, ${isBlockedSql('c.pending_payment_method_id', PENDING_FINGERPRINT)} as pending_blocked, c.last_payment_method_id, c.last_attempt_at, c.next_attempt_at,
         c.last_error_code, c.last_decline_code, c.last_error_message,
         k.customer_id, k.payment_method_id, ${isBlockedSql('k.payment_method_id', 'k.fingerprint')} as card_blocked,
         c.idempotency_key, c.action_required_at, ${ROUND_ASKED_AT_SQL} as round_asked_at
    from invoicing.invoices i
    left join invoicing.charges c on c.invoice_id = i.id
    left join cc_forms.cards_on_file k on k.account_id = i.account_id
   where i.status in ('finalized', 'past_due', 'action_required') and i.total > 0 and (c.state is null or c.state <> 'paid')
     and (c.invoice_id is null
          or c.pending_payment_method_id is not null
          or c.next_attempt_at <= $1
          or (c.state = 'action_required'
              and case when i.status = 'past_due'
                       then c.last_attempt_at + make_interval(secs => case when c.action_required_at + make_interval(secs => $4::float8) > $1
                                                                           then $3::float8 else $2::float8 end)
                       else coalesce(${ROUND_ASKED_AT_SQL}, c.last_attempt_at) + make_interval(secs => $2::float8) end <= $1)
          or (k.payment_method_id is distinct from c.last_payment_method_id and not ${isBlockedSql('k.payment_method_id', 'k.fingerprint')}))
     and (i.finalized_at, i.number) > ($5::timestamptz, $6::text)
   order by i.finalized_at, i.number
   limit $7`;

/**
 * Where a page of candidates ends: its last invoice's (finalized_at, number), both never changed
 * (001's trigger) and the pair unique, so the next page starts strictly after it. `finalizedAt` is
 * PostgreSQL's text: a Date would drop the microseconds and read the last row again.
 */
export interface CandidateCursor {
  finalizedAt: string;
  number: string;
}

/**
 * The candidates due at `now`, in (finalized_at, number) order, after `page.after` and at most
 * `page.limit` of them (all when not given). The status and total filter and the order are those
 * of the partial index invoices_chargeable (migration 045), so a page reads only unpaid invoices.
 */
export async function chargeCandidates(
  db: Db,
  now: Date,
  authenticationWindow: number,
  page: { after?: CandidateCursor; limit?: number } = {},
): Promise<Candidate[] & { cursor?: CandidateCursor }> {
  const hourly = Math.min(PAST_DUE_LOOK_EVERY_SECONDS, authenticationWindow);
  const { rows } = await db.query<CandidateRow & { cursor_at: string }>(CANDIDATES, [
    now,
    authenticationWindow,
    hourly,
    PAST_DUE_HOURLY_LOOKS_FOR_SECONDS,
    page.after?.finalizedAt ?? '-infinity',
    page.after?.number ?? '',
    page.limit ?? null,
  ]);
  const last = rows.at(-1);
  const candidates: Candidate[] & { cursor?: CandidateCursor } = rows.map((r) => ({
    invoice: { id: r.id, accountId: r.account_id, number: r.number, status: r.status, currency: r.currency, total: r.total },
    charge: r.has_charge ? chargeOf(r) : undefined,
    card:
      r.payment_method_id && r.customer_id
        ? { customerId: r.customer_id, paymentMethodId: r.payment_method_id, ...(r.card_blocked ? { blocked: true } : {}) }
        : undefined,
    key: r.idempotency_key ?? undefined,
    askedAt: r.action_required_at,
  }));
  if (last) candidates.cursor = { finalizedAt: last.cursor_at, number: last.number };
  return candidates;
}

const chargeOf = (r: CandidateRow): ChargeRow => ({
  paymentIntentId: r.payment_intent_id,
  state: r.state!,
  attempts: r.attempts!,
  roundStart: r.round_start!,
  pendingPaymentMethodId: r.pending_payment_method_id,
  lastPaymentMethodId: r.last_payment_method_id,
  lastAttemptAt: r.last_attempt_at,
  nextAttemptAt: r.next_attempt_at,
  lastErrorCode: r.last_error_code,
  lastDeclineCode: r.last_decline_code,
  lastErrorMessage: r.last_error_message,
  ...(r.pending_blocked ? { pendingBlocked: true } : {}),
  ...(r.round_asked_at ? { roundAskedAt: r.round_asked_at } : {}),
});

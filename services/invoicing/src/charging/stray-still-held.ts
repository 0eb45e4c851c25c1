// A stray payment held on an invoice's charge row (save-payment.ts strayRow) stops the invoice's dunning
// for good: never past due, the account never suspended for it (the customer paid what our page asked).
// Warned once when held (`charge.stray`), it was forgotten by anyone who missed that line: the invoice
// unpaid for ever, the cardholder's wrong payment never returned. While it stays held, the charging pass
// warns it again once a day, saying what to run.
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import { fromMinorUnits } from './amount.ts';
import { type ChargeableInvoice, STRAY_PAYMENT } from './decide.ts';
import type { ReportedIntent } from './gateway-calls.ts';
import type { GivenBack } from './stray-given-back.ts';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * Warns `charge.stray_still_held` when the stray has not been told for a day: counted from the later of
 * `stray_warned_at` (migration 044) and the hold (`last_attempt_at`, which strayRow sets to the hold's
 * time and nothing changes while the stray is held), so the hold's own `charge.stray` is that day's
 * warning. The time is claimed by one conditional update at the pass's clock before anything is logged:
 * a restart remembers it, and of two processes at once (passes already run one at a time under
 * CHARGE_LOCK) only one row update wins. Not held any more (released, paid meanwhile): nothing (false).
 * 'dispute_open' when it warned while a chargeback blocks the refund, else 'warned'.
 */
export async function warnStillHeld(
  deps: { pool: pg.Pool; log: Logger },
  invoice: ChargeableInvoice,
  intent: ReportedIntent,
  back: GivenBack,
  now: Date,
): Promise<false | 'warned' | 'dispute_open'> {
  const { rows } = await deps.pool.query<{ held_at: Date | null }>(
    `update invoicing.charges set stray_warned_at = $3
      where invoice_id = $1 and payment_intent_id = $2 and last_error_code = $4 and state <> 'paid'
        and coalesce(greatest(stray_warned_at, last_attempt_at), '-infinity') <= $3::timestamptz - interval '1 day'
      returning last_attempt_at as held_at`,
    [invoice.id, intent.id, now, STRAY_PAYMENT],
  );
  const claimed = rows[0];
  if (!claimed) return false;
  const returned = back.refunded + back.chargedBack;
  // While a chargeback is open the gateway refuses any refund (vault refund-stray says so, exit 1):
  // the line names the dispute and waits for it; nothing for the operator to run yet.
  const dispute = back.open?.[0];
  deps.log.warn('charge.stray_still_held', {
    invoice_id: invoice.id,
    account_id: invoice.accountId,
    payment_intent: intent.id,
    amount_received: fromMinorUnits(intent.amount, intent.currency),
    currency: intent.currency.toUpperCase(),
    ...(returned > 0 ? { amount_given_back: fromMinorUnits(returned, intent.currency) } : {}),
    invoice_total: invoice.total,
    invoice_currency: invoice.currency.toUpperCase(),
    held_since: claimed.held_at?.toISOString() ?? 'unknown',
    held_for: claimed.held_at ? heldFor(now.getTime() - claimed.held_at.getTime()) : 'unknown',
    ...(dispute
      ? {
          dispute_open: dispute.id,
          status: dispute.status,
          run: `nothing yet: wait for dispute ${dispute.id} to close, or answer it at the gateway (lost gives the money back; won: vault refund-stray ${invoice.id})`,
        }
      : { run: `vault refund-stray ${invoice.id}` }),
    'count#charges.stray_still_held': 1,
  });
  return dispute ? 'dispute_open' : 'warned';
}

/** How long it has been held, in days and hours ("1d2h", "5h"); never negative. */
export function heldFor(ms: number): string {
  const whole = Math.max(0, ms);
  const days = Math.floor(whole / DAY_MS);
  const hours = Math.floor((whole % DAY_MS) / HOUR_MS);
  return days > 0 ? `${days}d${hours}h` : `${hours}h`;
}

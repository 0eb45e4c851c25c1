// A refund or chargeback recorded after its month was given late credits
// (docs/contracts/invoicing.md, "Late credits after a refund or chargeback"):
// capLateCredits caps a credit by what was given back before it, but nothing
// claws a credit back when the money goes back after it (October 25.00 paid,
// "Credit for 2025-10: −24.19" on November, then October refunded 25.00: 49.19
// back on 25.00). Money does not move for it here; operators are warned, once
// per refund or chargeback recorded, with what the month kept, so finance can settle it.
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import { Money } from '../domain/money.ts';
import { amountDisputedSql } from './dispute-sums.ts';

export const REFUND_AFTER_LATE_CREDIT = 'charge.refund_after_late_credit';

/** The invoice's month: what it charged (its usage lines and late charges), the late credits given to it, and what went back. */
const MONTH = `
  with m as (select id, account_id, period, amount_refunded, ${amountDisputedSql('invoices')} as disputed
               from invoicing.invoices where id = $1)
  select m.period, m.amount_refunded::text as refunded, m.disputed,
         coalesce(sum(l.amount) filter (where not (l.kind = 'adjustment' and l.amount < 0)), 0)::text as charged,
         coalesce(-sum(l.amount) filter (where l.kind = 'adjustment' and l.amount < 0), 0)::text as credited
    from m
    join invoicing.invoices i on i.account_id = m.account_id
    join invoicing.invoice_lines l on l.invoice_number = i.number
   where (i.id = m.id and l.kind in ('dyno', 'addon')) or (l.kind = 'adjustment' and l.adjusts = m.period)
   group by m.period, m.amount_refunded, m.disputed`;

/**
 * After a refund or chargeback of `invoiceId` is committed: when its month was
 * already given late credits, warns `charge.refund_after_late_credit` with the
 * month's figures; `over` is what it gave back beyond what it charged. Never
 * throws: the event is recorded, and a failed read is logged, not redelivered.
 */
export async function warnIfLateCredited(
  deps: { pool: pg.Pool; log: Logger },
  what: { event_id: string; invoice_id: string; by: 'refund' | 'chargeback' },
): Promise<void> {
  try {
    const { rows } = await deps.pool.query<{ period: string; refunded: string; disputed: string; charged: string; credited: string }>(
      MONTH,
      [what.invoice_id],
    );
    const month = rows[0];
    if (!month || !new Money(month.credited).gt(0)) return;
    const kept = new Money(month.charged).minus(month.credited).minus(month.refunded).minus(month.disputed);
    deps.log.warn(REFUND_AFTER_LATE_CREDIT, {
      ...what,
      month: month.period,
      amount_refunded: month.refunded,
      amount_disputed: month.disputed,
      credited: new Money(month.credited).toFixed(2),
      charged: new Money(month.charged).toFixed(2),
      kept: kept.toFixed(2),
      over: Money.max(kept.negated(), 0).toFixed(2),
      'count#charge.refund_after_late_credit': 1,
    });
  } catch (err) {
    deps.log.error('charge.refund_after_late_credit_failed', err, { invoice_id: what.invoice_id, event_id: what.event_id });
  }
}

// Finalize runs over several months for the late-usage tests, time between them
// simulated by dating each run's invoices back, and what a month charges over
// its invoice and every later adjustment, against what its usage prices at now.
import { Decimal } from 'decimal.js';
import { DateTime } from 'luxon';
import type pg from 'pg';
import type { PriceBook } from '@vault/contracts';
import { computeDrafts } from '../src/billing/compute-drafts.ts';
import { createBilling } from '../src/billing/service.ts';
import { parsePeriod } from '../src/domain/period.ts';

/**
 * Finalizes `period` as of `clock` (72 hours' grace), then dates the invoices it
 * made back to `finalizedAt` (the clock when not given), as if the run had been then.
 */
export async function finalizeAt(pool: pg.Pool, prices: PriceBook, period: string, clock: string, finalizedAt = clock): Promise<void> {
  const billing = createBilling({ pool, prices, graceHours: 72, now: () => DateTime.fromISO(clock, { zone: 'utc' }) });
  const before = (await pool.query<{ id: string }>('select id from invoicing.invoices where period = $1', [period])).rows.map((r) => r.id);
  await billing.finalize(period);
  await pool.query('update invoicing.invoices set finalized_at = $3 where period = $1 and id <> all($2::text[])', [
    period,
    before,
    finalizedAt,
  ]);
}

/** What a month charges the account now: its invoice's usage lines and every adjustment to it on later invoices. */
export async function chargedFor(pool: pg.Pool, account: string, period: string): Promise<string> {
  const { rows } = await pool.query<{ amount: string }>(
    `select coalesce(sum(l.amount), 0)::text as amount
       from invoicing.invoices i join invoicing.invoice_lines l on l.invoice_number = i.number
      where i.account_id = $1 and ((i.period = $2 and l.kind in ('dyno', 'addon')) or (l.kind = 'adjustment' and l.adjusts = $2))`,
    [account, period],
  );
  return new Decimal(rows[0]!.amount).toFixed(2);
}

/** What the month's usage of the account prices at now. */
export async function pricedNow(pool: pg.Pool, prices: PriceBook, account: string, period: string): Promise<string> {
  const month = parsePeriod(period);
  const { drafts } = await computeDrafts(pool, prices, { period: month, until: month.end.toJSDate(), accounts: [account] });
  return new Decimal(drafts.get(account)?.subtotal ?? 0).toFixed(2);
}

// What a finalized month's invoice gave back (refunds, chargebacks not
// reinstated), read for the late credits of the month (domain/late-credit-cap.ts).
import type pg from 'pg';
import { amountDisputedSql } from '../charging/dispute-sums.ts';

export interface GivenBack {
  refunded: string;
  disputed: string;
}

/** Per account of `accounts`, what its invoice of `period` gave back; an account without one is absent. */
export async function givenBack(db: pg.Pool | pg.PoolClient, period: string, accounts: readonly string[]): Promise<Map<string, GivenBack>> {
  if (accounts.length === 0) return new Map();
  const { rows } = await db.query<GivenBack & { account_id: string }>(
    `select i.account_id, i.amount_refunded::text as refunded, ${amountDisputedSql('i')} as disputed
       from invoicing.invoices i
      where i.account_id = any($2::text[]) and i.period = $1`,
    [period, accounts],
  );
  return new Map(rows.map((r) => [r.account_id, { refunded: r.refunded, disputed: r.disputed }]));
}

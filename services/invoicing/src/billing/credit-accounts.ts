// Whether invoicing has ever seen an account, so that a grant to a mistyped id
// (`acct-typo-22`) is refused rather than recorded where no invoice will ever
// use it (docs/contracts/invoicing.md, Credits: "a grant to an unknown account").
import type pg from 'pg';
import { requireMetering } from './metering-schema.ts';

type Db = pg.Pool | pg.PoolClient;

/**
 * Known: the account has an invoice, a ledger entry (an earlier grant, a
 * remainder), usage folded into invoicing's aggregates, or has owned an app at
 * any time as metering publishes it (`billable_ownership`: usage is billed only
 * through ownership, and ownership is never archived). Invoicing's own tables
 * first (each read by an index on the account); metering's view only when they
 * say nothing, and only once its schema is there (else MeteringNotReadyError).
 */
export async function isKnownAccount(db: Db, accountId: string): Promise<boolean> {
  const own = await db.query<{ known: boolean }>(
    `select exists (select 1 from invoicing.invoices where account_id = $1)
         or exists (select 1 from invoicing.credit_entries where account_id = $1)
         or exists (select 1 from invoicing.usage_days where account_id = $1) as known`,
    [accountId],
  );
  if (own.rows[0]!.known) return true;
  await requireMetering(db);
  const owned = await db.query<{ known: boolean }>(
    'select exists (select 1 from metering.billable_ownership where account_id = $1) as known',
    [accountId],
  );
  return owned.rows[0]!.known;
}

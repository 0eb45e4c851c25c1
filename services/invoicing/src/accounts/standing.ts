// An account's standing (docs/contracts/invoicing.md "Payment", api.md "Notices"): suspended
// once an invoice of it has been past due longer than SUSPEND_PAST_DUE_AFTER,
// reinstated once nothing it owes is past due; each told by a notice. A past-due
// invoice the next finalize carries (`carryable`: below the gateway's minimum,
// never charged) counts for neither: it is never charged, so never paid. The
// Vault only says so: the platform suspends the apps, and usage keeps being
// billed as its events say (see the contract, "Suspension").
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import type { Logger } from '@vault/runtime';
import { carryable } from '../billing/credit-store.ts';
import { accountNotice } from '../notices/notice.ts';
import { recordNotice } from '../notices/outbox.ts';
import { suspensionRemedies } from './suspension-remedies.ts';

export interface StandingDeps {
  pool: pg.Pool;
  log: Logger;
  /** SUSPEND_PAST_DUE_AFTER, in seconds. */
  suspendAfterSeconds: number;
  /** The gateway's smallest charge in the price book's currency ("0.50"), as finalize carries below it. */
  minimum: string;
  now?: () => Date;
  /**
   * Run for each account before it is reviewed, outside its transaction: the charger reads the
   * PaymentIntents of its past-due invoices waiting for their cardholder, so one paid on our page
   * with its webhook lost is paid now and does not suspend the account.
   */
  beforeReview?: (accountId: string) => Promise<void>;
  /** Accounts read (and reviewed) at a time; REVIEW_PAGE (1,000) unless given (tests). */
  page?: number;
}

export interface StandingReport {
  suspended: number;
  reinstated: number;
}

/** Accounts read (and reviewed) at a time when the review is not told otherwise. */
export const REVIEW_PAGE = 1000;

/**
 * Accounts whose standing may change: overdue and not suspended, or suspended
 * with nothing past due; a carryable invoice ($2 the minimum) is not past due here.
 * A page of them: after account $3, in account order (both arms' account_id is collate "C",
 * so the order and the cursor's comparison are the indexes'), at most $4.
 */
const CANDIDATES = `
  select distinct i.account_id
    from invoicing.invoices i
    join invoicing.charges c on c.invoice_id = i.id
    left join invoicing.account_standing s on s.account_id = i.account_id
   where i.status = 'past_due' and c.past_due_at <= $1 and s.suspended_at is null and not ${carryable('$2')}
     and i.account_id > $3
  union
  select s.account_id
    from invoicing.account_standing s
   where s.suspended_at is not null and s.account_id > $3
     and not exists (select 1 from invoicing.invoices i
                      where i.account_id = s.account_id and i.status = 'past_due' and not ${carryable('$2')})
   order by account_id
   limit $4`;

/**
 * The review's accounts a page at a time (keyset on account_id), each page reviewed before the next
 * is read: memory and each statement hold a page, not every overdue account at once. One cutoff for
 * every page; an account the review changed is behind the cursor, so none is read twice.
 */
export async function* standingPages(pool: pg.Pool, cutoff: Date, minimum: string, limit = REVIEW_PAGE): AsyncGenerator<string[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`review page must be a positive integer, got ${limit}`);
  let after = '';
  for (;;) {
    const { rows } = await pool.query<{ account_id: string }>(CANDIDATES, [cutoff, minimum, after, limit]);
    if (rows.length > 0) yield rows.map((r) => r.account_id);
    if (rows.length < limit) return;
    after = rows.at(-1)!.account_id;
  }
}

/** One review of every account whose standing may change (the charging loop runs it after each pass). */
export async function reviewStandings(deps: StandingDeps): Promise<StandingReport> {
  const now = deps.now?.() ?? new Date();
  const cutoff = new Date(now.getTime() - deps.suspendAfterSeconds * 1000);
  const report: StandingReport = { suspended: 0, reinstated: 0 };
  for await (const accounts of standingPages(deps.pool, cutoff, deps.minimum, deps.page)) {
    for (const account_id of accounts) {
      // Its failure is logged and the review goes on: a gateway look must not hold suspensions back.
      await deps.beforeReview?.(account_id).catch((err: unknown) => deps.log.error('standing.look_failed', err, { account_id }));
      const changed = await withTransaction(
        deps.pool,
        (client) => reviewAccount(client, account_id, { cutoff, now, minimum: deps.minimum }),
        { log: deps.log, name: 'standing.review' },
      );
      if (changed === 'suspended') report.suspended++;
      if (changed === 'reinstated') report.reinstated++;
      if (changed) deps.log.info(`account.${changed}`, { account_id, [`count#accounts.${changed}`]: 1 });
    }
  }
  return report;
}

interface PastDue {
  id: string;
  past_due_at: Date | null;
}

/**
 * Decides one account under the locks a payment takes, in its order: the
 * account's past-due invoices, then its standing row. A payment in progress
 * holds its invoice from the start, so this waits for it and then reads the
 * invoice paid; one that comes after waits for this, sees the suspension and
 * lifts it. (Locking the standing row first, a review read an invoice whose
 * payment had begun as still past due, and suspended on it.)
 */
async function reviewAccount(client: pg.PoolClient, accountId: string, at: { cutoff: Date; now: Date; minimum: string }) {
  const { cutoff, now } = at;
  await client.query(`select 1 from invoicing.invoices where account_id = $1 and status = 'past_due' order by id for update`, [accountId]);
  await client.query('insert into invoicing.account_standing (account_id) values ($1) on conflict do nothing', [accountId]);
  const standing = (
    await client.query<{ suspended_at: Date | null; suspensions: number }>(
      'select suspended_at, suspensions from invoicing.account_standing where account_id = $1 for update',
      [accountId],
    )
  ).rows[0]!;
  const pastDue = await pastDueInvoices(client, accountId, at.minimum);
  const overdue = pastDue.filter((x) => x.past_due_at !== null && x.past_due_at <= cutoff);
  if (standing.suspended_at === null && overdue.length > 0) {
    const suspension = standing.suspensions + 1;
    await client.query('update invoicing.account_standing set suspended_at = $2, suspensions = $3 where account_id = $1', [
      accountId,
      now,
      suspension,
    ]);
    await recordNotice(
      client,
      accountNotice('account.suspended', accountId, suspension, now, {
        invoice_ids: overdue.map((x) => x.id),
        past_due_since: overdue[0]!.past_due_at!.toISOString(),
        // What lifts it: every past-due invoice that counts (not only the overdue ones) must be settled.
        remedies: await suspensionRemedies(
          client,
          pastDue.map((x) => x.id),
        ),
      }),
    );
    return 'suspended' as const;
  }
  if (standing.suspended_at !== null && pastDue.length === 0) {
    await reinstate(client, accountId, standing.suspensions, now);
    return 'reinstated' as const;
  }
  return undefined;
}

/** The account's past-due invoices; with `minimum`, but those finalize carries (never charged, so never paid). */
const pastDueInvoices = async (client: pg.PoolClient, accountId: string, minimum?: string): Promise<PastDue[]> =>
  (
    await client.query<PastDue>(
      `select i.id, c.past_due_at from invoicing.invoices i left join invoicing.charges c on c.invoice_id = i.id
        where i.account_id = $1 and i.status = 'past_due' and ($2::numeric is null or not ${carryable('$2')})
        order by c.past_due_at nulls last, i.id`,
      [accountId, minimum ?? null],
    )
  ).rows;

async function reinstate(client: pg.PoolClient, accountId: string, suspension: number, now: Date) {
  await client.query('update invoicing.account_standing set suspended_at = null, reinstated_at = $2 where account_id = $1', [
    accountId,
    now,
  ]);
  await recordNotice(client, accountNotice('account.reinstated', accountId, suspension, now));
}

/**
 * In the transaction that just moved an invoice of the account out of
 * past_due (after the invoice's lock: the one lock order): reinstates the
 * account if it is suspended and nothing it owes is past due any more. A
 * carryable one left counts here (its callers know no minimum): the next review lifts it.
 */
export async function reinstateIfClear(client: pg.PoolClient, accountId: string, now: Date): Promise<boolean> {
  // The row is locked whether or not the account is suspended: a review deciding now waits for
  // this payment and reads it (it suspended on an invoice being paid when only suspended rows were locked).
  await client.query('insert into invoicing.account_standing (account_id) values ($1) on conflict do nothing', [accountId]);
  const { rows } = await client.query<{ suspended_at: Date | null; suspensions: number }>(
    'select suspended_at, suspensions from invoicing.account_standing where account_id = $1 for update',
    [accountId],
  );
  if (rows[0]?.suspended_at == null) return false;
  if ((await pastDueInvoices(client, accountId)).length > 0) return false;
  await reinstate(client, accountId, rows[0]!.suspensions, now);
  return true;
}

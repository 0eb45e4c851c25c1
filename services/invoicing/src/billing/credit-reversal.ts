// Taking back part or all of an operator's grant (docs/contracts/invoicing.md,
// Credits: reversals): a `reversal` ledger entry (migration 030), negative,
// drawing on the grant's own lot, at most what is left of it, so neither other
// lots nor what invoices already used are touched. Once per grant.
import { DateTime } from 'luxon';
import type pg from 'pg';
import { sqlState, withTransaction } from '@vault/db';
import type { CreditReversal, CreditReversalRequest } from '@vault/contracts';
import type { Logger } from '@vault/runtime';
import { Money } from '../domain/money.ts';
import { entryId } from './credit-store.ts';
import { refuseTakenMonth } from './credits-taken.ts';
import { FINALIZE_LOCK } from './finalize.ts';

/** A reversal that cannot be made as asked: 404 (no such grant of the account) or 422; the message names the field. */
export class ReversalRefused extends Error {
  constructor(
    readonly status: 404 | 422,
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A finalize run held the ledger's lock longer than the caller would wait: nothing was reversed. */
export class LedgerBusy extends Error {
  constructor(waitedMs: number) {
    super(
      `a finalize run is applying credit (it holds the ledger's lock); waited ${waitedMs} ms; nothing reversed: try again once it ends`,
    );
  }
}

export type ReversalOutcome =
  | { outcome: 'created' | 'existing'; reversal: CreditReversal }
  /** The grant was reversed already with another amount or reason: nothing is changed. */
  | { outcome: 'conflict'; reversal: CreditReversal; differs: string[] };

export interface ReversalOptions {
  /** How long to wait for a finalize run to end (then LedgerBusy); unset: as long as it takes. */
  lockWaitMs?: number;
  /** Told once, before waiting, when a finalize run holds the lock. */
  onWait?: () => void;
  log?: Logger;
}

interface Lot {
  id: string;
  account_id: string;
  granted: string;
  currency: string;
  expires_at: Date | null;
  remaining: string;
  applied: string;
  expired: string;
}

interface ReversalRow {
  amount: string;
  reason: string;
  at: Date;
}

/**
 * Reverses `asked.amount` of grant `grantId` (all that is left of it when
 * omitted), dated `at`. Under finalize's lock (FINALIZE_LOCK, taken for this
 * transaction): finalize holds it while it reads lots and writes what invoices
 * draw on them, and expires lots under it, so what is left is read after every
 * draw committed and none comes between the read and this entry. `at` as a
 * clock is read once the lock is held: credits.csv's check holds it shared, so
 * an entry is never dated before a check that passed and committed after it,
 * and a month whose file was taken is noted before the check lets go: an `at`
 * in it is refused (EntryInTakenMonthError, credits-taken.ts).
 */
export async function reverseGrant(
  pool: pg.Pool,
  accountId: string,
  grantId: string,
  asked: CreditReversalRequest,
  clock: Date | (() => Date),
  opts: ReversalOptions = {},
): Promise<ReversalOutcome> {
  return withTransaction(
    pool,
    async (client) => {
      await lockLedger(client, opts);
      const at = typeof clock === 'function' ? clock() : clock;
      const lot = await grantLot(client, grantId);
      // Another account's grant is not this account's to reverse: as if it did not exist.
      if (!lot || lot.account_id !== accountId) {
        throw new ReversalRefused(404, 'credit_id', `no grant ${grantId} of account ${accountId}`);
      }
      const done = await client.query<ReversalRow>(
        `select (-amount)::text as amount, reason, at from invoicing.credit_entries where lot_id = $1 and kind = 'reversal'`,
        [lot.id],
      );
      if (done.rows[0]) return sameOrConflict(done.rows[0], lot, grantId, asked);
      // A clock behind would date it in a month whose credits.csv was taken (credits-taken.ts).
      await refuseTakenMonth(client, 'credit reversal', at);
      const expired = lot.expires_at !== null && lot.expires_at <= at;
      const left = expired ? new Money(0) : new Money(lot.remaining);
      const amount = asked.amount === undefined ? left : new Money(asked.amount);
      if (left.lte(0)) throw new ReversalRefused(422, 'amount', `nothing is left of credit ${grantId} to reverse: ${whereItWent(lot, at)}`);
      if (amount.gt(left)) {
        throw new ReversalRefused(
          422,
          'amount',
          `must be at most ${left.toFixed(2)}, what is left of credit ${grantId}: ${whereItWent(lot, at)}; got ${asked.amount}`,
        );
      }
      await client.query(
        `insert into invoicing.credit_entries (id, account_id, kind, amount, currency, lot_id, reason, at)
         values ($1, $2, 'reversal', $3, $4, $5, $6, $7)`,
        [entryId(), accountId, amount.neg().toFixed(2), lot.currency, lot.id, asked.reason, at],
      );
      return { outcome: 'created', reversal: reversalOf(lot, grantId, { amount: amount.toFixed(2), reason: asked.reason, at }) };
    },
    { log: opts.log, name: 'credit_reverse' },
  );
}

/** Finalize's lock for this transaction: at once, or after `onWait`, within `lockWaitMs` when given. */
async function lockLedger(client: pg.PoolClient, opts: ReversalOptions): Promise<void> {
  const tried = await client.query<{ locked: boolean }>('select pg_try_advisory_xact_lock($1) as locked', [FINALIZE_LOCK]);
  if (tried.rows[0]!.locked) return;
  opts.onWait?.();
  if (opts.lockWaitMs !== undefined) await client.query(`select set_config('lock_timeout', $1, true)`, [`${opts.lockWaitMs}ms`]);
  try {
    await client.query('select pg_advisory_xact_lock($1)', [FINALIZE_LOCK]);
  } catch (err) {
    // 55P03 lock_not_available: lock_timeout ran out.
    if (sqlState(err) === '55P03') throw new LedgerBusy(opts.lockWaitMs ?? 0);
    throw err;
  }
  await client.query(`select set_config('lock_timeout', '0', true)`);
}

/** The grant's lot: what was granted, what is left, and what invoices and expiry took of it. */
async function grantLot(client: pg.PoolClient, grantId: string): Promise<Lot | undefined> {
  const { rows } = await client.query<Lot>(
    `select g.id, g.account_id, g.amount::text as granted, g.currency, g.expires_at,
            (g.amount + coalesce(sum(d.amount), 0))::text as remaining,
            coalesce(sum(-d.amount) filter (where d.kind = 'applied'), 0)::text as applied,
            coalesce(sum(-d.amount) filter (where d.kind = 'expired'), 0)::text as expired
       from invoicing.credit_entries g left join invoicing.credit_entries d on d.lot_id = g.id
      where g.grant_id = $1
      group by g.id`,
    [grantId],
  );
  return rows[0];
}

/** Why so little is left: what was granted, and what invoices used or expiry wrote off. */
function whereItWent(lot: Lot, at: Date): string {
  const parts = [`granted ${lot.granted} ${lot.currency}`];
  if (new Money(lot.applied).gt(0)) parts.push(`${lot.applied} of it applied to finalized invoices`);
  if (new Money(lot.expired).gt(0)) parts.push(`${lot.expired} of it expired`);
  else if (lot.expires_at !== null && lot.expires_at <= at) {
    parts.push(
      `it expired on ${DateTime.fromJSDate(lot.expires_at, { zone: 'utc' }).toISO()} (the next finalize writes off what was left)`,
    );
  }
  return parts.join(', ');
}

/** The same reversal asked again is the one recorded (`existing`); another amount or reason is a `conflict`. */
function sameOrConflict(done: ReversalRow, lot: Lot, grantId: string, asked: CreditReversalRequest): ReversalOutcome {
  const reversal = reversalOf(lot, grantId, done);
  const differs = [
    // Without an amount the request is "what was left": the recorded reversal is that.
    asked.amount !== undefined && !new Money(asked.amount).eq(done.amount) && 'amount',
    asked.reason !== done.reason && 'reason',
  ].filter((x): x is string => x !== false);
  return differs.length === 0 ? { outcome: 'existing', reversal } : { outcome: 'conflict', reversal, differs };
}

const reversalOf = (lot: Lot, grantId: string, r: ReversalRow): CreditReversal => ({
  credit_id: grantId,
  account_id: lot.account_id,
  amount: r.amount,
  currency: lot.currency,
  reason: r.reason,
  reversed_at: r.at.toISOString(),
  granted: lot.granted,
});

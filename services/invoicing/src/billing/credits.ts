// An account's credit balance and operators' grants (api.md, Credits): what
// the routes and `vault credit grant|reverse` call. The balance is derived from
// the ledger at billing's clock; a grant is recorded once per id, only to an
// account invoicing knows unless said to be new, and reversed at most once.
import type { DateTime } from 'luxon';
import type pg from 'pg';
import type { CreditBalance, CreditGrantRequest, CreditReversalRequest } from '@vault/contracts';
import { balanceOf, type CreditLot } from '../domain/credit.ts';
import { isKnownAccount } from './credit-accounts.ts';
import { type ReversalOptions, type ReversalOutcome, reverseGrant } from './credit-reversal.ts';
import { creditLots, grantCredit, storedGrant, type GrantOutcome } from './credit-store.ts';
import { EntryInTakenMonthError, takenMonthOf } from './credits-taken.ts';
import { withGrantLock } from './grant-lock.ts';

/** A grant that cannot be recorded as asked; the message names the field. */
export class GrantRefused extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A grant to an account invoicing has never seen, not said to be new: 422, naming `account`. */
export class UnknownAccount extends GrantRefused {
  constructor(readonly accountId: string) {
    super('account', `${accountId} is not an account invoicing knows (it never owned an app, and has no invoice and no credit)`);
  }
}

export interface CreditDeps {
  pool: pg.Pool;
  currency: string;
  now: () => DateTime;
}

/** The lots the account's balance is made of at billing's clock: granted by it, not expired then. */
export async function balanceLots(deps: CreditDeps, accountId: string): Promise<CreditLot[]> {
  const lots = await creditLots(deps.pool, [accountId], deps.now().toJSDate());
  return lots.get(accountId) ?? [];
}

export async function creditBalance(deps: CreditDeps, accountId: string): Promise<CreditBalance> {
  return { account_id: accountId, currency: deps.currency, credit: balanceOf(await balanceLots(deps, accountId)) };
}

/**
 * Records an operator's grant; the same id again changes nothing. Throws
 * GrantRefused for an expiry not in the future, UnknownAccount for an account
 * never seen unless `new_account` is true (a typo would be credit no invoice uses),
 * EntryInTakenMonthError when billing's clock (or the expiry) is in a month whose credits.csv was taken.
 */
export async function grant(deps: CreditDeps, accountId: string, request: CreditGrantRequest): Promise<GrantOutcome> {
  if (request.new_account !== true && !(await isKnownAccount(deps.pool, accountId))) throw new UnknownAccount(accountId);
  // Dated under the grant lock, committed before it is let go: credits.csv's check never passes between (grant-lock.ts).
  return withGrantLock(deps.pool, async (client) => {
    const at = deps.now().toJSDate();
    const expiresAt = request.expires_at === undefined ? null : new Date(request.expires_at);
    const g = { grantId: request.id, accountId, amount: request.amount, currency: deps.currency, reason: request.reason, expiresAt, at };
    if (expiresAt && expiresAt <= at) {
      // Before the taken months: a past expiry is the 400 naming expires_at, whatever month it is in
      // (a typo's year lands in one finance took). A grant sent again after its expiry (a client's
      // retry) is the grant it was: only a new one must expire later.
      const stored = await storedGrant(client, g);
      if (stored) return stored;
      throw new GrantRefused('expires_at', `must be in the future, got ${request.expires_at}`);
    }
    // A clock behind would date it, or its `expired` entry, in a month whose credits.csv was taken
    // (credits-taken.ts); a replay writes nothing and is answered as before.
    const taken = await takenMonthOf(client, at);
    const expiryTaken = !taken && expiresAt ? await takenMonthOf(client, expiresAt) : undefined;
    if (taken || expiryTaken) {
      const stored = await storedGrant(client, g);
      if (stored) return stored;
      throw taken
        ? new EntryInTakenMonthError('credit grant', at, taken)
        : new EntryInTakenMonthError('credit grant', at, expiryTaken!, expiresAt!);
    }
    return grantCredit(client, g);
  });
}

/** Takes back `request.amount` (or all that is left) of the account's grant `grantId`, once; see reverseGrant. */
export function reverse(
  deps: CreditDeps,
  accountId: string,
  grantId: string,
  request: CreditReversalRequest,
  opts?: ReversalOptions,
): Promise<ReversalOutcome> {
  // The clock is read once the reversal holds finalize's lock: dated before it, a reversal could commit after credits.csv's check.
  return reverseGrant(deps.pool, accountId, grantId, request, () => deps.now().toJSDate(), opts);
}

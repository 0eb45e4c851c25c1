// An account's credit balance and operators' grants (api.md, Credits): what
// the routes and `vault credit grant` call. The balance is derived from the
// ledger at billing's clock; a grant is recorded once per id.
import type { DateTime } from 'luxon';
import type pg from 'pg';
import type { CreditBalance, CreditGrantRequest } from '@vault/contracts';
import { balanceOf, type CreditLot } from '../domain/credit.ts';
import { creditLots, grantCredit, storedGrant, type GrantOutcome } from './credit-store.ts';

/** A grant that cannot be recorded as asked; the message names the field. */
export class GrantRefused extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
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

/** Records an operator's grant; the same id again changes nothing. Throws GrantRefused for an expiry not in the future. */
export async function grant(deps: CreditDeps, accountId: string, request: CreditGrantRequest): Promise<GrantOutcome> {
  const at = deps.now().toJSDate();
  const expiresAt = request.expires_at === undefined ? null : new Date(request.expires_at);
  const g = { grantId: request.id, accountId, amount: request.amount, currency: deps.currency, reason: request.reason, expiresAt, at };
  if (expiresAt && expiresAt <= at) {
    // A grant sent again after its expiry (a client's retry) is the grant it was: only a new one must expire later.
    const stored = await storedGrant(deps.pool, g);
    if (stored) return stored;
    throw new GrantRefused('expires_at', `must be in the future, got ${request.expires_at}`);
  }
  return grantCredit(deps.pool, g);
}

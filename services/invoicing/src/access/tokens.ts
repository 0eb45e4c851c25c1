import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { adminOnly, type Principal, type TokenVerifier } from '@vault/runtime';

export type TokenGrant = { kind: 'account'; accountId: string } | { kind: 'finance' };

/** Only a token's hash is stored: a leaked table grants nothing. */
export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/** A new bearer token for one account's customer, or for finance. Printed once, never stored. */
export async function createToken(pool: pg.Pool, grant: TokenGrant): Promise<string> {
  const token = `vt_${grant.kind === 'account' ? 'acct' : 'fin'}_${randomBytes(24).toString('base64url')}`;
  await pool.query('insert into invoicing.tokens (hash, kind, account_id) values ($1, $2, $3)', [
    tokenHash(token),
    grant.kind,
    grant.kind === 'account' ? grant.accountId : null,
  ]);
  return token;
}

/** The principal a stored token speaks for, if any. */
export async function lookupToken(pool: pg.Pool, token: string): Promise<Principal | undefined> {
  const { rows } = await pool.query<{ kind: 'account' | 'finance'; account_id: string | null }>(
    'select kind, account_id from invoicing.tokens where hash = $1',
    [tokenHash(token)],
  );
  const row = rows[0];
  if (!row) return undefined;
  return row.kind === 'finance' ? { kind: 'finance' } : { kind: 'account', accountId: row.account_id! };
}

/** ADMIN_TOKEN, else a stored account or finance token. */
export function invoicingVerifier(pool: pg.Pool, adminToken: string): TokenVerifier {
  const admin = adminOnly(adminToken);
  return (token) => admin(token) ?? lookupToken(pool, token);
}

/** Admin and finance read every account; an account's customer only their own. */
export function canSeeAccount(principal: Principal | undefined, accountId: string): boolean {
  if (!principal) return false;
  return principal.kind !== 'account' || principal.accountId === accountId;
}

/** Finance exports and the holds report: admin or finance. */
export const isStaff = (principal: Principal | undefined) => principal?.kind === 'admin' || principal?.kind === 'finance';

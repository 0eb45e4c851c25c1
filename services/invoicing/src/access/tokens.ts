import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { adminOnly, type Principal, type Reach, type TokenVerifier } from '@vault/runtime';

export type TokenGrant = { kind: 'account'; accountId: string } | { kind: 'finance' } | { kind: 'publisher' };
export type TokenKind = TokenGrant['kind'];

/** Only a token's hash is stored: a leaked table grants nothing. */
export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

const PREFIX: Record<TokenKind, string> = { account: 'vt_acct', finance: 'vt_fin', publisher: 'vt_pub' };

/** A token stored: its public id, never its value. */
export interface IssuedToken {
  /** The public id (`tok_…`): what `vault token list` shows and `vault token revoke` takes. */
  id: string;
  /** The bearer token itself, shown once: only its hash is kept. */
  token: string;
  expiresAt: Date | null;
}

/** A new bearer token; with `expiresInSeconds` it stops working that long from now. */
export async function issueToken(pool: pg.Pool, grant: TokenGrant, options: { expiresInSeconds?: number } = {}): Promise<IssuedToken> {
  const token = `${PREFIX[grant.kind]}_${randomBytes(24).toString('base64url')}`;
  const id = `tok_${randomBytes(8).toString('hex')}`;
  const { rows } = await pool.query<{ expires_at: Date | null }>(
    `insert into invoicing.tokens (id, hash, kind, account_id, expires_at)
     values ($1, $2, $3, $4, now() + make_interval(secs => $5::double precision))
     returning expires_at`,
    [id, tokenHash(token), grant.kind, grant.kind === 'account' ? grant.accountId : null, options.expiresInSeconds ?? null],
  );
  return { id, token, expiresAt: rows[0]!.expires_at };
}

/** A new bearer token that never expires (until revoked). Printed once, never stored. */
export async function createToken(pool: pg.Pool, grant: TokenGrant): Promise<string> {
  return (await issueToken(pool, grant)).token;
}

/**
 * The shape issueToken gives every token (a kind's prefix, 24 random bytes in base64url).
 * Anything else is no token, answered without the database: a flood of junk, even past
 * the failed-token limit, costs no query.
 */
export const TOKEN_SHAPE = /^vt_(?:acct|fin|pub)_[A-Za-z0-9_-]{32}$/;

/** SQL: the token row `t` works now. */
const LIVE = 't.revoked_at is null and (t.expires_at is null or t.expires_at > now())';

/** The principal a live stored token speaks for, if any: a revoked or expired one is no one. */
export async function lookupToken(pool: pg.Pool, token: string): Promise<Principal | undefined> {
  if (!TOKEN_SHAPE.test(token)) return undefined;
  const { rows } = await pool.query<{ id: string; kind: TokenKind; account_id: string | null }>(
    `select t.id, t.kind, t.account_id from invoicing.tokens t where t.hash = $1 and ${LIVE}`,
    [tokenHash(token)],
  );
  const row = rows[0];
  if (!row) return undefined;
  if (row.kind === 'account') return { kind: 'account', accountId: row.account_id!, tokenId: row.id };
  return { kind: row.kind, tokenId: row.id };
}

/** ADMIN_TOKEN, else a live stored token. */
export function invoicingVerifier(pool: pg.Pool, adminToken: string): TokenVerifier {
  const admin = adminOnly(adminToken);
  return (token) => admin(token) ?? lookupToken(pool, token);
}

/**
 * Who reaches which of invoicing's bearer routes (api.md, "Access"); any
 * other route is the admin token's alone, and publisher tokens reach none.
 * Finance: exports and holds only. An account's token: its own account's API
 * (which account is the route's check, canSeeAccount) and its own holds.
 */
export const INVOICING_REACH: Reach = {
  'GET /v1/accounts/:account_id/usage': ['admin', 'account'],
  'GET /v1/accounts/:account_id/invoices': ['admin', 'account'],
  'GET /v1/invoices/:id': ['admin', 'account'],
  'GET /v1/accounts/:account_id/balance': ['admin', 'account'],
  'GET /v1/holds': ['admin', 'finance', 'account'],
  'GET /v1/exports/invoices.csv': ['admin', 'finance'],
  'GET /v1/exports/lines.csv': ['admin', 'finance'],
  'GET /v1/exports/credits.csv': ['admin', 'finance'],
};

/** The admin reads every account; an account's customer only their own; nobody else any. */
export function canSeeAccount(principal: Principal | undefined, accountId: string): boolean {
  if (principal?.kind === 'admin') return true;
  return principal?.kind === 'account' && principal.accountId === accountId;
}

/** Finance exports and the holds report: admin or finance. */
export const isStaff = (principal: Principal | undefined) => principal?.kind === 'admin' || principal?.kind === 'finance';

/** A stored token as `vault token list` shows it: never its value nor its hash. */
export interface TokenListing {
  id: string;
  kind: TokenKind;
  accountId: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** Neither revoked nor expired, now. */
  live: boolean;
}

type ListingRow = {
  id: string;
  kind: TokenKind;
  account_id: string | null;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  live: boolean;
};
const LISTING = `select t.id, t.kind, t.account_id, t.created_at, t.expires_at, t.revoked_at, (${LIVE}) as live from invoicing.tokens t`;
const listing = (r: ListingRow): TokenListing => ({
  id: r.id,
  kind: r.kind,
  accountId: r.account_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  live: r.live,
});

/** The longest id, kind and account (`-` for none) among the stored tokens, and whether any expires: a listing's column widths. */
export interface TokenExtent {
  count: number;
  id: number;
  kind: number;
  account: number;
  expires: boolean;
}

/** Which tokens a listing shows: only those that work now, only an account's. */
export interface TokenFilter {
  live?: boolean;
  accountId?: string;
}

/** Tokens per `fetch`: what a listing holds in memory at once. */
export const TOKEN_PAGE = 1000;

/**
 * Every stored token, oldest first, `page` by `page`, after their extent, both read in one
 * read-only snapshot (so the widths fit the rows): the listing is the tokens as they were when it
 * began, whatever is made or revoked while it is written. Revoked and expired tokens are kept for
 * ever: reading them all at once took 9.3 s and +176 MiB at 400,000 tokens. The cursor is declared
 * `with hold` and its transaction committed before the first page is handed over: PostgreSQL keeps
 * the rows (on disk past work_mem), and no snapshot is held while a slow reader (`| less`) waits,
 * which held back vacuum for the whole database. Pages are not read by keyset: without an index on
 * (created_at, id) each page of an unfiltered listing would read every token.
 */
export async function listTokens(
  pool: pg.Pool,
  visit: { extent(e: TokenExtent): Promise<void> | void; page(tokens: TokenListing[]): Promise<void> | void },
  filter: TokenFilter = {},
  page = TOKEN_PAGE,
): Promise<void> {
  // Each filter written only when given: an account's listing then reads tokens_by_account (migration
  // 047) in the listing's order, whatever plan the statement gets; `($1 is null or …)` relied on the value.
  const values = filter.accountId === undefined ? [] : [filter.accountId];
  const clauses = [...(values.length > 0 ? ['t.account_id = $1'] : []), ...(filter.live ? [LIVE] : [])];
  const where = clauses.length > 0 ? `where ${clauses.join(' and ')}` : '';
  const client = await pool.connect();
  let closed = false;
  try {
    await client.query('begin isolation level repeatable read read only');
    const { rows } = await client.query<TokenExtent>(
      `select count(*)::int as count, coalesce(max(char_length(t.id)), 0) as id, coalesce(max(char_length(t.kind)), 0) as kind,
              coalesce(max(char_length(coalesce(t.account_id, '-'))), 0) as account, coalesce(bool_or(t.expires_at is not null), false) as expires
         from invoicing.tokens t ${where}`,
      values,
    );
    await client.query(`declare token_listing no scroll cursor with hold for ${LISTING} ${where} order by t.created_at, t.id`, values);
    await client.query('commit');
    await visit.extent(rows[0]!);
    for (;;) {
      const batch = await client.query<ListingRow>(`fetch ${page} from token_listing`);
      if (batch.rows.length > 0) await visit.page(batch.rows.map(listing));
      if (batch.rows.length < page) break;
    }
    await client.query('close token_listing');
    closed = true;
  } finally {
    // A session still in the transaction or holding the cursor (the reader gone, a failed statement) is ended, not pooled.
    client.release(!closed);
  }
}

/** Whether any token, live or not, was ever made for the account. */
export async function accountHasTokens(pool: pg.Pool, accountId: string): Promise<boolean> {
  const { rows } = await pool.query<{ any: boolean }>('select exists (select 1 from invoicing.tokens where account_id = $1) as any', [
    accountId,
  ]);
  return rows[0]!.any;
}

/**
 * Revokes the token with this public id, at once (the next request with it is
 * 401): `revoked`, `already` revoked (when, unchanged), or `unknown`.
 */
export async function revokeToken(
  pool: pg.Pool,
  id: string,
): Promise<{ outcome: 'revoked' | 'already'; token: TokenListing } | { outcome: 'unknown' }> {
  const revoked = await pool.query('update invoicing.tokens set revoked_at = now() where id = $1 and revoked_at is null', [id]);
  const { rows } = await pool.query<ListingRow>(`${LISTING} where t.id = $1`, [id]);
  if (!rows[0]) return { outcome: 'unknown' };
  return { outcome: revoked.rowCount === 1 ? 'revoked' : 'already', token: listing(rows[0]) };
}

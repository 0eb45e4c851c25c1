// Sign-in links: what `vault token create --account ID` prints on stderr for
// the customer. Not an API token: a random secret (`vl_…`, only its sha256 kept
// in invoicing.sign_in_links) that opens one web session, once, within 15
// minutes, after the customer confirms on the page; the session lives only
// while the API token the link was issued with does. Reading and consuming
// links goes through the published names (@vault/web's sign-in-links.ts), as
// cc-forms does.
import type pg from 'pg';
import { linkHash, newLinkSecret } from '@vault/web';
import { tokenHash } from './tokens.ts';

/** How long a link can be used after it is made. */
export const SIGN_IN_LINK_MINUTES = 15;

/** A new link for the account's customer, tied to the API token it is issued with; returns the secret (never stored). */
export async function createSignInLink(pool: pg.Pool, grant: { accountId: string; tokenId: string }): Promise<string> {
  const secret = newLinkSecret();
  await pool.query(
    `insert into invoicing.sign_in_links (hash, account_id, token_id, expires_at)
     values ($1, $2, $3, now() + make_interval(mins => $4))`,
    [linkHash(secret), grant.accountId, grant.tokenId, SIGN_IN_LINK_MINUTES],
  );
  return secret;
}

/** The link's address on a web app: `<base>/signin?link=vl_…`, and the page to land on (`&next=/…`) when given. */
export const signInUrl = (base: string, secret: string, next?: string) =>
  `${base.replace(/\/$/, '')}/signin?link=${encodeURIComponent(secret)}${next === undefined ? '' : `&next=${encodeURIComponent(next)}`}`;

/** A sign-in link issued with the account token just created (found by its hash). */
export async function signInLinkFor(pool: pg.Pool, token: string, base: string): Promise<string> {
  const { rows } = await pool.query<{ id: string; account_id: string }>(
    `select id, account_id from invoicing.tokens where hash = $1 and kind = 'account'`,
    [tokenHash(token)],
  );
  const row = rows[0];
  if (!row) throw new Error('no such account token');
  return signInUrl(base, await createSignInLink(pool, { accountId: row.account_id, tokenId: row.id }));
}

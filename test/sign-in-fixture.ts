// An account's API token and operator sign-in links, stored as `vault token
// create --account` stores them (only hashes), for the end-to-end web tests.
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A new account token's public id (its secret is thrown away: the tests sign in by link). */
export async function accountToken(pool: pg.Pool, account: string): Promise<string> {
  const tokenId = `tok_${randomBytes(8).toString('hex')}`;
  await pool.query(`insert into invoicing.tokens (id, hash, kind, account_id) values ($1, $2, 'account', $3)`, [
    tokenId,
    sha256(`vt_acct_${randomBytes(24).toString('base64url')}`),
    account,
  ]);
  return tokenId;
}

/** A sign-in link's secret for the account, issued with the token, for either app, good for 15 minutes. */
export async function operatorLink(pool: pg.Pool, account: string, tokenId: string): Promise<string> {
  const link = `vl_${randomBytes(32).toString('base64url')}`;
  await pool.query(
    `insert into invoicing.sign_in_links (hash, account_id, token_id, expires_at) values ($1, $2, $3, now() + interval '15 minutes')`,
    [sha256(link), account, tokenId],
  );
  return link;
}

/**
 * Opens a sign-in link on a web app (`url`) and presses its button, through `headers` (a proxy's, or none):
 * the answers, the form cookie sent back, and the session cookie set.
 */
export async function signInOver(url: string, link: string, headers: Record<string, string> = {}) {
  const opened = await fetch(`${url}/signin?link=${link}`, { headers, redirect: 'manual' });
  const page = await opened.text();
  const csrf = /<form method="post" action="\/signin">[\s\S]*?name="_csrf" value="([^"]+)"/.exec(page)?.[1];
  const formCookie = opened.headers.getSetCookie().map((c) => c.split(';')[0]!);
  const posted = await fetch(`${url}/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...headers, cookie: formCookie.join('; '), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ link, _csrf: csrf ?? '' }).toString(),
  });
  return { opened, formCookie, posted, session: posted.headers.getSetCookie().find((c) => /vault_(card_)?session=/.test(c)) };
}

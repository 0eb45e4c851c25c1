// Sign-in links: what `vault token create --account ID` prints on stderr for
// the customer, and what the invoice pages hand a customer to cc-forms with. Not
// an API token: a random secret (`vl_…`, only its sha256 kept in
// invoicing.sign_in_links) that opens one web session, once, within 15
// minutes, after the customer confirms on the page; the session lives only
// while the API token the link was issued with does. A hand-over link is for
// cc-forms alone and its session lives only while the session it was made from
// does (migration 018). Reading and consuming links goes through the published
// names (@vault/web's sign-in-links.ts), as cc-forms does.
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import { linkHash, newLinkSecret, sessionHash, type SignInApp } from '@vault/web';
import { tokenHash } from './tokens.ts';

/** How long a link can be used after it is made. */
export const SIGN_IN_LINK_MINUTES = 15;

/** Unused hand-over links one session may have made in the last SIGN_IN_LINK_MINUTES: each GET /card-form makes one. */
export const HAND_OVER_LINKS_LIMIT = 20;

/** All hand-over links, used ones too, one session may make in SIGN_IN_LINK_MINUTES: each is a row kept while it lives. */
export const HAND_OVER_LINKS_MADE_LIMIT = 100;

type Db = pg.Pool | pg.PoolClient;
type Grant = { accountId: string; tokenId: string };

/**
 * Deletes the links that can no longer matter, all expired: never used (they
 * opened nothing), expired a day ago (any session they opened, 12 h at most in
 * either app, has ended), or handed over from a session that has ended (their
 * sessions ended with it: they are out of invoicing.live_links already). A link
 * whose session may live stays: deleting it would end that session.
 */
async function deleteSpentLinks(db: Db): Promise<void> {
  await db.query(
    `delete from invoicing.sign_in_links l
      where l.expires_at <= now()
        and (l.used_at is null or l.expires_at < now() - interval '1 day'
             or not exists (select 1 from invoicing.live_links k where k.hash = l.hash))`,
  );
}

async function insertLink(db: Db, grant: Grant, handOver?: { app: SignInApp; parentSession: string }): Promise<string> {
  const secret = newLinkSecret();
  await db.query(
    `insert into invoicing.sign_in_links (hash, account_id, token_id, expires_at, app, parent_session)
     values ($1, $2, $3, now() + make_interval(mins => $4), $5, $6)`,
    [linkHash(secret), grant.accountId, grant.tokenId, SIGN_IN_LINK_MINUTES, handOver?.app ?? null, handOver?.parentSession ?? null],
  );
  return secret;
}

/** A new link for the account's customer, for either app, tied to the API token it is issued with; returns the secret (never stored). */
export async function createSignInLink(pool: pg.Pool, grant: Grant): Promise<string> {
  await deleteSpentLinks(pool);
  return insertLink(pool, grant);
}

export type HandOver = { secret: string } | { refused: 'ended' } | { refused: 'too_many'; retryAfterSeconds: number };

/**
 * A link for `app` made from a signed-in session (its account and token): the
 * session it opens ends when this one does. Refused when the session has ended,
 * or has HAND_OVER_LINKS_LIMIT unused (or HAND_OVER_LINKS_MADE_LIMIT in all) links of the last
 * SIGN_IN_LINK_MINUTES.
 */
export async function createHandOverLink(pool: pg.Pool, from: Grant & { sessionId: string }, app: SignInApp): Promise<HandOver> {
  await deleteSpentLinks(pool);
  const parentSession = sessionHash(from.sessionId);
  return withTransaction(pool, async (client): Promise<HandOver> => {
    // Locking the session's row makes its hand-overs take turns, so the count is exact.
    const live = await client.query('select 1 from invoicing.sessions where hash = $1 and expires_at > now() for update', [parentSession]);
    if (live.rowCount === 0) return { refused: 'ended' };
    const { rows } = await client.query<{ unused: number; made: number; oldest_unused: number | null; oldest: number | null }>(
      `select count(*) filter (where used_at is null)::int as unused, count(*)::int as made,
              extract(epoch from now() - min(created_at) filter (where used_at is null))::float8 as oldest_unused,
              extract(epoch from now() - min(created_at))::float8 as oldest
         from invoicing.sign_in_links
        where parent_session = $1 and created_at > now() - make_interval(mins => $2)`,
      [parentSession, SIGN_IN_LINK_MINUTES],
    );
    const { unused, made, oldest_unused, oldest } = rows[0]!;
    // Used ones count too, under a higher cap: the card form uses a link up even when it opens no session.
    const full = unused >= HAND_OVER_LINKS_LIMIT ? oldest_unused : made >= HAND_OVER_LINKS_MADE_LIMIT ? oldest : undefined;
    if (full !== undefined) {
      // The oldest counted link leaves the window first.
      return { refused: 'too_many', retryAfterSeconds: Math.max(1, Math.ceil(SIGN_IN_LINK_MINUTES * 60 - (full ?? 0))) };
    }
    return { secret: await insertLink(client, from, { app, parentSession }) };
  });
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

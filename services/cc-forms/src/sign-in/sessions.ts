// The card form's cookie sessions (`cc_forms.sessions`, only the id's sha256,
// with the token and sign-in link each came from). Sign-in links are
// invoicing's: cc-forms reads and consumes them only through invoicing's
// published names (@vault/web's sign-in-links.ts), and a session lives only
// while its token is in invoicing.live_tokens and its link in
// invoicing.live_links (a hand-over link leaves it when the invoice pages'
// session it came from ends). Hand-over links used up later in an open session
// are recorded against it (`cc_forms.session_hand_overs`), for sign-out.
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import {
  consumeSignInLink,
  cookieSessions,
  isLinkSecret,
  isSessionId,
  linkHash,
  published,
  sessionHash,
  type SessionGrant,
  type SignInApp,
} from '@vault/web';

/**
 * Not invoicing's `vault_session`: browsers share cookies across ports of one
 * host, so on localhost the two apps would overwrite each other's session.
 * Over https it is `__Host-vault_card_session` (Secure).
 */
export const SESSION_COOKIE = 'vault_card_session';

/** The app this is, to sign-in links: the invoice pages' hand-over links are made for it. */
export const SIGN_IN_APP: SignInApp = 'cc-forms';

/**
 * 12 hours after sign-in (a hand-over's: until the session it came from ends, if
 * sooner), not extended by use; ended at once when its token is revoked or expires,
 * or when an invoice pages' session that handed over into it ends.
 */
export const sessions = cookieSessions({
  table: 'cc_forms.sessions',
  hours: 12,
  liveTokens: 'invoicing.live_tokens',
  liveLinks: 'invoicing.live_links',
  // A hand-over that went straight on into this session: signing out of the invoice pages it came from ends this one too.
  joinedLinks: 'cc_forms.session_hand_overs',
});

/**
 * True when the session `sessionId` (already known live) was opened by this very sign-in link: the
 * session row records the link's hash. What lets a used link, opened again by the browser it signed
 * in (Back, or submitted again after the first answer), go on to its page instead of being refused; it opens nothing.
 */
export async function openedByLink(pool: pg.Pool, sessionId: string, link: string): Promise<boolean> {
  if (!isLinkSecret(link)) return false;
  const { rowCount } = await pool.query('select 1 from cc_forms.sessions where hash = $1 and link_hash = $2', [
    sessionHash(sessionId),
    linkHash(link),
  ]);
  return rowCount === 1;
}

/**
 * Sign-in by link: uses the link up and opens its session (`open`, through the transaction's
 * client) in one transaction. A session insert stopped on its way (DATABASE_STATEMENT_TIMEOUT_MS
 * behind a lock, the session ended by the server) rolls the link's use back with it: the link
 * still signs in, once; used on its own first, it was spent with no session to show for it. Two
 * posts of one link at once: the second waits on the first's row lock and then finds it used.
 * Undefined when the link opens nothing.
 */
export async function signInWithLink(
  pool: pg.Pool,
  link: string,
  open: (db: pg.Pool, grant: SessionGrant) => Promise<void>,
): Promise<SessionGrant | undefined> {
  if (!isLinkSecret(link)) return undefined;
  return withTransaction(pool, async (client) => {
    // The session helpers take a pool and only call its query(): the client stands in for one.
    const db = client as unknown as pg.Pool;
    const grant = await consumeSignInLink(db, link, SIGN_IN_APP);
    if (grant !== undefined) await open(db, grant);
    return grant;
  });
}

/**
 * A hand-over (or any) link opened with `next` in the session the browser already has, of the link's
 * account: uses the link up and records it against that session (cc_forms.session_hand_overs, migration
 * 006) in one statement, so no link is used without its record. The session keeps its own link_hash; the
 * record is what lets sign-out end the invoice pages' session that made this link too. False when the
 * link opens nothing (used, expired, ended, revoked, another app's or account's, or the session is gone).
 */
export async function consumeIntoSession(pool: pg.Pool, sessionId: string, link: string): Promise<boolean> {
  if (!isLinkSecret(link) || !isSessionId(sessionId)) return false;
  const { rows } = await published(() =>
    pool.query<{ used: number }>(
      `with used as (select account_id from invoicing.consume_sign_in_link($1, $2)),
       recorded as (
         insert into cc_forms.session_hand_overs (session_hash, link_hash)
         select s.hash, $1 from cc_forms.sessions s join used u on u.account_id = s.account_id where s.hash = $3
         returning 1)
       select (select count(*) from recorded)::int as used`,
      [linkHash(link), SIGN_IN_APP, sessionHash(sessionId)],
    ),
  );
  return rows[0]!.used > 0;
}

/**
 * Sign-out: ends every invoice pages' session that handed over into this one (invoicing.end_hand_over_parent,
 * migration 026): the one whose link opened it (link_hash), and each whose link went straight on into it later
 * (session_hand_overs). Any of them could otherwise open the card form again on a shared computer. The number
 * ended; an operator's link ends none. Invoicing's function missing (not migrated yet): SignInUnavailable.
 */
export async function endHandOverParents(pool: pg.Pool, sessionId: string | undefined): Promise<number> {
  if (!isSessionId(sessionId)) return 0;
  const { rows } = await published(() =>
    pool.query<{ ended: number }>(
      `select coalesce(sum(invoicing.end_hand_over_parent(l.link_hash, $2)), 0)::int as ended
       from (select s.link_hash from cc_forms.sessions s where s.hash = $1
             union select h.link_hash from cc_forms.session_hand_overs h where h.session_hash = $1) l`,
      [sessionHash(sessionId), SIGN_IN_APP],
    ),
  );
  return rows[0]?.ended ?? 0;
}

// The card form's cookie sessions (`cc_forms.sessions`, only the id's sha256,
// with the token and sign-in link each came from). Sign-in links are
// invoicing's: cc-forms reads and consumes them only through invoicing's
// published names (@vault/web's sign-in-links.ts), and a session lives only
// while its token is in invoicing.live_tokens and its link in
// invoicing.live_links (a hand-over link leaves it when the invoice pages'
// session it came from ends).
import type pg from 'pg';
import { cookieSessions, isLinkSecret, isSessionId, linkHash, published, sessionHash, type SignInApp } from '@vault/web';

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
 * sooner), not extended by use; ended at once when its token is revoked or expires.
 */
export const sessions = cookieSessions({
  table: 'cc_forms.sessions',
  hours: 12,
  liveTokens: 'invoicing.live_tokens',
  liveLinks: 'invoicing.live_links',
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
 * Sign-out of a session a hand-over link opened: ends the invoice pages' session it came from too
 * (invoicing.end_hand_over_parent, migration 026), which could otherwise open the card form again on a
 * shared computer. True when one was ended; an operator's link's session has none. Invoicing's
 * function missing (not migrated yet): SignInUnavailable.
 */
export async function endHandOverParent(pool: pg.Pool, sessionId: string | undefined): Promise<boolean> {
  if (!isSessionId(sessionId)) return false;
  const { rows } = await published(() =>
    pool.query<{ ended: number }>(
      'select invoicing.end_hand_over_parent(s.link_hash, $2) as ended from cc_forms.sessions s where s.hash = $1',
      [sessionHash(sessionId), SIGN_IN_APP],
    ),
  );
  return (rows[0]?.ended ?? 0) > 0;
}

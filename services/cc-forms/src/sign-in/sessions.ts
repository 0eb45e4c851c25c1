// The card form's cookie sessions (`cc_forms.sessions`, only the id's sha256,
// with the token and sign-in link each came from). Sign-in links are
// invoicing's: cc-forms reads and consumes them only through invoicing's
// published names (@vault/web's sign-in-links.ts), and a session lives only
// while its token is in invoicing.live_tokens and its link in
// invoicing.live_links (a hand-over link leaves it when the invoice pages'
// session it came from ends).
import { cookieSessions, type SignInApp } from '@vault/web';

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

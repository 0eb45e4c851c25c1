// Web sessions of the invoice UI: a sign-in link opens one; the cookie holds a
// random id, `invoicing.sessions` only its sha256, with the token and link it
// came from. A session lives only while its token is in invoicing.live_tokens
// and its link in invoicing.live_links.
import { cookieSessions, type SignInApp } from '@vault/web';

/** Over https the cookie is `__Host-vault_session` (Secure). */
export const SESSION_COOKIE = 'vault_session';

/** The app this is, to sign-in links: a hand-over link made for cc-forms is no link here. */
export const SIGN_IN_APP: SignInApp = 'invoicing';

/** 12 hours after sign-in, not extended by use; ended at once when its token is revoked or expires. */
export const sessions = cookieSessions({
  table: 'invoicing.sessions',
  hours: 12,
  liveTokens: 'invoicing.live_tokens',
  liveLinks: 'invoicing.live_links',
});

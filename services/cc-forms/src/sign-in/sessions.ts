// The card form's cookie sessions (`cc_forms.sessions`, only the id's sha256,
// with the token and sign-in link each came from). Sign-in links are
// invoicing's: cc-forms reads and consumes them only through invoicing's
// published names (@vault/web's sign-in-links.ts), and a session lives only
// while its token is in invoicing.live_tokens.
import { cookieSessions } from '@vault/web';

/**
 * Not invoicing's `vault_session`: browsers share cookies across ports of one
 * host, so on localhost the two apps would overwrite each other's session.
 * Over https it is `__Host-vault_card_session` (Secure).
 */
export const SESSION_COOKIE = 'vault_card_session';

/** 12 hours after sign-in, not extended by use; ended at once when its token is revoked or expires. */
export const sessions = cookieSessions({ table: 'cc_forms.sessions', hours: 12, liveTokens: 'invoicing.live_tokens' });

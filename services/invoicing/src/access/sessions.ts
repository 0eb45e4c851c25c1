// Web sessions of the invoice UI: a sign-in link opens one; the cookie holds a
// random id, `invoicing.sessions` only its sha256, with the token and link it
// came from. A session lives only while its token is in invoicing.live_tokens.
import { cookieSessions } from '@vault/web';

/** Over https the cookie is `__Host-vault_session` (Secure). */
export const SESSION_COOKIE = 'vault_session';

/** 12 hours after sign-in, not extended by use; ended at once when its token is revoked or expires. */
export const sessions = cookieSessions({ table: 'invoicing.sessions', hours: 12, liveTokens: 'invoicing.live_tokens' });

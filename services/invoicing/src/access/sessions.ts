// Web sessions of the invoice UI: a sign-in link's token opens one; the
// cookie holds a random id, `invoicing.sessions` only its sha256.
import { cookieSessions } from '@vault/web';

export const SESSION_COOKIE = 'vault_session';

/** 12 hours after sign-in, not extended by use. */
export const sessions = cookieSessions({ table: 'invoicing.sessions', hours: 12 });

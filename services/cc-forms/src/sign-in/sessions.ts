// The card form's web sessions (`cc_forms.sessions`, only the id's sha256).
import { cookieSessions } from '@vault/web';

/**
 * Not invoicing's `vault_session`: browsers share cookies across ports of one
 * host, so on localhost the two apps would overwrite each other's session.
 */
export const SESSION_COOKIE = 'vault_card_session';

/** 12 hours after sign-in, not extended by use. */
export const sessions = cookieSessions({ table: 'cc_forms.sessions', hours: 12 });

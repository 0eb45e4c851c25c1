// Web sessions of the invoice UI: a sign-in link's token opens one; the
// cookie holds a random id, `invoicing.sessions` only its sha256
// (cookie sessions from @vault/web).
import type pg from 'pg';
import { cookieSessions } from '@vault/web';

/** How long a session lasts after sign-in; it is not extended by use. */
export const SESSION_HOURS = 12;

const sessions = cookieSessions({ table: 'invoicing.sessions', hours: SESSION_HOURS });

/** Opens a session for the account; returns the id for the cookie (never stored). */
export const openSession = (pool: pg.Pool, accountId: string): Promise<string> => sessions.open(pool, accountId);

/** The account a session id signs in, if it names a session that has not expired. */
export const sessionAccount = (pool: pg.Pool, id: string | undefined): Promise<string | undefined> => sessions.account(pool, id);

/** Ends a session (sign-out); an unknown id is already ended. */
export const closeSession = (pool: pg.Pool, id: string | undefined): Promise<void> => sessions.close(pool, id);

// Web sessions: a sign-in link's token opens one; the browser keeps a random id
// in a cookie, and the database keeps only that id's sha256, so a leaked
// sessions table opens nothing.
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';

/** How long a session lasts after sign-in; it is not extended by use. */
export const SESSION_HOURS = 12;

/** 32 random bytes, base64url: what the cookie holds. Anything else is not a session id. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

const sessionHash = (id: string) => createHash('sha256').update(id).digest('hex');

/** Opens a session for the account; returns the id for the cookie (never stored). */
export async function openSession(pool: pg.Pool, accountId: string): Promise<string> {
  const id = randomBytes(32).toString('base64url');
  // Expired sessions are cleared here: sign-ins are rare, so this keeps the table small.
  await pool.query('delete from invoicing.sessions where expires_at <= now()');
  await pool.query(
    `insert into invoicing.sessions (hash, account_id, expires_at)
     values ($1, $2, now() + make_interval(hours => $3))`,
    [sessionHash(id), accountId, SESSION_HOURS],
  );
  return id;
}

/** The account a session id signs in, if it names a session that has not expired. */
export async function sessionAccount(pool: pg.Pool, id: string | undefined): Promise<string | undefined> {
  if (id === undefined || !SESSION_ID.test(id)) return undefined;
  const { rows } = await pool.query<{ account_id: string }>(
    'select account_id from invoicing.sessions where hash = $1 and expires_at > now()',
    [sessionHash(id)],
  );
  return rows[0]?.account_id;
}

/** Ends a session (sign-out); an unknown id is already ended. */
export async function closeSession(pool: pg.Pool, id: string | undefined): Promise<void> {
  if (id === undefined || !SESSION_ID.test(id)) return;
  await pool.query('delete from invoicing.sessions where hash = $1', [sessionHash(id)]);
}

// Cookie sessions: a sign-in opens one; the browser keeps a random id in a
// cookie, and the database keeps only that id's sha256, so a leaked sessions
// table opens nothing. Each app has its own table of the same shape:
//   (hash text primary key, account_id text not null,
//    created_at timestamptz not null default now(), expires_at timestamptz not null)
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';

/** 32 random bytes, base64url: what the cookie holds. Anything else is not a session id. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** `schema.table`, plain identifiers only: it is written into SQL. */
const QUALIFIED_TABLE = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;

export const sessionHash = (id: string) => createHash('sha256').update(id).digest('hex');

/** True when `id` has the shape of a session id (it may still name no session). */
export const isSessionId = (id: string | undefined): id is string => id !== undefined && SESSION_ID.test(id);

export interface CookieSessions {
  /** How long a session lasts after sign-in; it is not extended by use. */
  readonly hours: number;
  /** Opens a session for the account; returns the id for the cookie (never stored). */
  open(pool: pg.Pool, accountId: string): Promise<string>;
  /** The account a session id signs in, if it names a session that has not expired. */
  account(pool: pg.Pool, id: string | undefined): Promise<string | undefined>;
  /** Ends a session (sign-out); an unknown id is already ended. */
  close(pool: pg.Pool, id: string | undefined): Promise<void>;
}

export function cookieSessions(options: { table: string; hours: number }): CookieSessions {
  const { table, hours } = options;
  if (!QUALIFIED_TABLE.test(table)) throw new RangeError(`not a schema-qualified table name: ${JSON.stringify(table)}`);
  return {
    hours,
    async open(pool, accountId) {
      const id = randomBytes(32).toString('base64url');
      // Expired sessions are cleared here: sign-ins are rare, so this keeps the table small.
      await pool.query(`delete from ${table} where expires_at <= now()`);
      await pool.query(
        `insert into ${table} (hash, account_id, expires_at)
         values ($1, $2, now() + make_interval(hours => $3))`,
        [sessionHash(id), accountId, hours],
      );
      return id;
    },
    async account(pool, id) {
      if (!isSessionId(id)) return undefined;
      const { rows } = await pool.query<{ account_id: string }>(`select account_id from ${table} where hash = $1 and expires_at > now()`, [
        sessionHash(id),
      ]);
      return rows[0]?.account_id;
    },
    async close(pool, id) {
      if (!isSessionId(id)) return;
      await pool.query(`delete from ${table} where hash = $1`, [sessionHash(id)]);
    },
  };
}

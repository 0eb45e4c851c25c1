// Cookie sessions: a sign-in link opens one; the browser keeps a random id in
// a cookie, and the database keeps only that id's sha256, so a leaked sessions
// table opens nothing. Each app has its own table of the same shape:
//   (hash text primary key, account_id text not null,
//    token_id text, link_hash text,
//    created_at timestamptz not null default now(), expires_at timestamptz not null)
// A session lives only while the API token its link was issued with does, and
// while its link may still open one: every lookup checks the token in a view of
// live tokens (`liveTokens`, columns id and account_id) and the link in a view
// of live links (`liveLinks`, column hash; a hand-over link leaves it when the
// session it was made from ends), so either ends its sessions at once. An app
// whose sessions other links join later (`joinedLinks`, columns session_hash and
// link_hash) ends a session as soon as any of those links leaves `liveLinks` too.
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { published } from './sign-in-links.ts';

/** 32 random bytes, base64url: what the cookie holds. Anything else is not a session id. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** `schema.table`, plain identifiers only: it is written into SQL. */
const QUALIFIED_TABLE = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;

export const sessionHash = (id: string) => createHash('sha256').update(id).digest('hex');

/** True when `id` has the shape of a session id (it may still name no session). */
export const isSessionId = (id: string | undefined): id is string => id !== undefined && SESSION_ID.test(id);

/** What a consumed sign-in link grants: a session for its account, tied to its token. */
export interface SessionGrant {
  accountId: string;
  /** The public id of the API token the link was issued with; the session lives only while the token does. */
  tokenId: string;
  /** The sha256 of the sign-in link that opened the session; the session lives only while the link is in `liveLinks`. */
  linkHash: string;
  /** A hand-over link's: when the session it was made from ends. This session ends no later. */
  endsBy?: Date | undefined;
}

/** A session just opened: the id for the cookie (never stored), and how long it lasts. */
export interface OpenedSession {
  id: string;
  seconds: number;
}

export interface CookieSessions {
  /** How long a session lasts after sign-in; it is not extended by use. */
  readonly hours: number;
  /** Opens a session for the grant: `hours` long, or until its `endsBy` if sooner. */
  open(pool: pg.Pool, grant: SessionGrant): Promise<OpenedSession>;
  /** The account a session id signs in, if it names a session that has not expired and whose token and link are live. */
  account(pool: pg.Pool, id: string | undefined): Promise<string | undefined>;
  /** account(), with the API token the session was opened with (a link handed to the other app is issued with it). */
  signedIn(pool: pg.Pool, id: string | undefined): Promise<{ accountId: string; tokenId: string } | undefined>;
  /** Ends a session (sign-out); an unknown id is already ended. */
  close(pool: pg.Pool, id: string | undefined): Promise<void>;
}

export function cookieSessions(options: {
  table: string;
  hours: number;
  liveTokens: string;
  liveLinks: string;
  /** Links used up later into an open session: each must stay live too (signing out where one came from ends it). */
  joinedLinks?: string;
}): CookieSessions {
  const { table, hours, liveTokens, liveLinks, joinedLinks } = options;
  for (const name of [table, liveTokens, liveLinks, ...(joinedLinks ? [joinedLinks] : [])]) {
    if (!QUALIFIED_TABLE.test(name)) throw new RangeError(`not a schema-qualified table name: ${JSON.stringify(name)}`);
  }
  const joinedSql = joinedLinks
    ? `
           and not exists (select 1 from ${joinedLinks} j where j.session_hash = s.hash
                            and not exists (select 1 from ${liveLinks} l where l.hash = j.link_hash))`
    : '';
  const signedIn: CookieSessions['signedIn'] = async (pool, id) => {
    if (!isSessionId(id)) return undefined;
    // Deny by default: a session without a token, or whose token is revoked,
    // expired, gone or another account's, signs nobody in; nor does one whose
    // link is gone or was handed over from a session that has ended, nor one a
    // later hand-over joined whose session has ended (the same browser signed out there).
    // Invoicing's views missing (cc-forms upgraded before invoicing migrated): "not set up", a 503.
    const { rows } = await published(() =>
      pool.query<{ account_id: string; token_id: string }>(
        `select s.account_id, s.token_id from ${table} s
         where s.hash = $1 and s.expires_at > now()
           and exists (select 1 from ${liveTokens} t where t.id = s.token_id and t.account_id = s.account_id)
           and exists (select 1 from ${liveLinks} l where l.hash = s.link_hash)${joinedSql}`,
        [sessionHash(id)],
      ),
    );
    const row = rows[0];
    return row && { accountId: row.account_id, tokenId: row.token_id };
  };

  return {
    hours,
    async open(pool, grant) {
      const id = randomBytes(32).toString('base64url');
      // Expired sessions are cleared here: sign-ins are rare, so this keeps the table small.
      await pool.query(`delete from ${table} where expires_at <= now()`);
      // least() skips a null: without `endsBy`, `hours` from now.
      const { rows } = await pool.query<{ seconds: number }>(
        `insert into ${table} (hash, account_id, token_id, link_hash, expires_at)
         values ($1, $2, $3, $4, least(now() + make_interval(hours => $5), $6::timestamptz))
         returning greatest(0, floor(extract(epoch from expires_at - now())))::int as seconds`,
        [sessionHash(id), grant.accountId, grant.tokenId, grant.linkHash, hours, grant.endsBy ?? null],
      );
      return { id, seconds: rows[0]!.seconds };
    },
    account: async (pool, id) => (await signedIn(pool, id))?.accountId,
    signedIn,
    async close(pool, id) {
      if (!isSessionId(id)) return;
      await pool.query(`delete from ${table} where hash = $1`, [sessionHash(id)]);
    },
  };
}

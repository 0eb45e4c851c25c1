// Sign-in links, as both web apps read them. Invoicing makes them (`vault token
// create --account ID`, and the invoice pages' hand-over to cc-forms) and
// publishes four names that invoicing's pages and cc-forms alike sign in
// through, and nothing else of its schema (migrations 005 and 018), plus a
// fifth for cc-forms' sign-out (migration 026, cc-forms' sessions.ts):
//   invoicing.sign_in_link_status(hash, account_id, token_id, expires_at, state, app)
//   invoicing.consume_sign_in_link(hash, app) → (account_id, token_id, ends_by), once
//   invoicing.live_tokens(id, account_id)   (the sessions' check, sessions.ts)
//   invoicing.live_links(hash)              (the sessions' check, sessions.ts)
//   invoicing.end_hand_over_parent(hash, app) → sessions ended (0 or 1)
// A link's secret is `vl_` and 32 random bytes (base64url); only its sha256 is
// stored. It is not an API token: a bearer header with it opens nothing. A
// hand-over link is for one app (another app treats it as no link), and the
// session it opens ends by `ends_by`, when the session it came from does.
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { SessionGrant } from './sessions.ts';

const LINK_SECRET = /^vl_[A-Za-z0-9_-]{43}$/;

/** A new link secret: what the link's address carries (never stored). */
export const newLinkSecret = () => `vl_${randomBytes(32).toString('base64url')}`;

/** The sha256 (hex) kept of a link secret. */
export const linkHash = (secret: string) => createHash('sha256').update(secret).digest('hex');

/**
 * The card form's pages a sign-in may land on (`next`): the invoice pages hand a
 * customer over to one of them, and the card form goes to no other (never another site).
 */
export const CARD_FORM_PAGE = /^\/(?:card|payments\/[A-Za-z0-9_]{1,255})$/;

/** True when `text` has the shape of a link secret (it may still name no link). */
export const isLinkSecret = (text: string | undefined): text is string => text !== undefined && LINK_SECRET.test(text);

/** The app a link signs in to: a link made for the other one is no link here. */
export type SignInApp = 'invoicing' | 'cc-forms';

/** 'valid' signs in after confirmation; the others say why not ('ended': the session it was handed over from has). */
export type LinkState = 'valid' | 'used' | 'expired' | 'ended' | 'revoked';

export interface LinkStatus {
  accountId: string;
  state: LinkState;
}

/** Invoicing's published sign-in names are missing: its migrations never ran on this database. */
export class SignInUnavailable extends Error {}

const UNAVAILABLE = new Set([
  '3F000', // invalid_schema_name
  '42P01', // undefined_table
  '42883', // undefined_function
]);

/** Runs a query of invoicing's published names; their absence is SignInUnavailable, not a 500. */
export async function published<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (UNAVAILABLE.has((err as { code?: string }).code ?? '')) throw new SignInUnavailable("invoicing's sign-in links are not set up");
    throw err;
  }
}

/** Whose link this is and whether it can still sign in to `app`; undefined for a link nobody made for it. Changes nothing. */
export async function signInLinkStatus(pool: pg.Pool, secret: string, app: SignInApp): Promise<LinkStatus | undefined> {
  if (!isLinkSecret(secret)) return undefined;
  const { rows } = await published(() =>
    pool.query<{ account_id: string; state: LinkState }>(
      'select account_id, state from invoicing.sign_in_link_status where hash = $1 and (app is null or app = $2)',
      [linkHash(secret), app],
    ),
  );
  const row = rows[0];
  return row && { accountId: row.account_id, state: row.state };
}

/**
 * Uses the link up, atomically: the session grant for the one caller that finds
 * it made for `app` (or either), unused, unexpired, its token live and, handed
 * over, its session live; undefined for every other caller.
 */
export async function consumeSignInLink(pool: pg.Pool, secret: string, app: SignInApp): Promise<SessionGrant | undefined> {
  if (!isLinkSecret(secret)) return undefined;
  const hash = linkHash(secret);
  const { rows } = await published(() =>
    pool.query<{ account_id: string; token_id: string; ends_by: Date | null }>(
      'select account_id, token_id, ends_by from invoicing.consume_sign_in_link($1, $2)',
      [hash, app],
    ),
  );
  const row = rows[0];
  return row && { accountId: row.account_id, tokenId: row.token_id, linkHash: hash, endsBy: row.ends_by ?? undefined };
}

// Sign-in tokens are invoicing's: cc-forms reads only its published view
// `invoicing.sign_in_tokens(hash, account_id)` (account tokens, sha256 hex).
import { createHash } from 'node:crypto';
import type pg from 'pg';

export class SignInUnavailable extends Error {}

/** The account a sign-in token opens, if any. */
export async function accountForToken(pool: pg.Pool, token: string): Promise<string | undefined> {
  const hash = createHash('sha256').update(token).digest('hex');
  try {
    const { rows } = await pool.query<{ account_id: string }>('select account_id from invoicing.sign_in_tokens where hash = $1', [hash]);
    return rows[0]?.account_id;
  } catch (err) {
    // 42P01/3F000: invoicing's migrations were never applied to this database.
    const code = (err as { code?: string }).code;
    if (code === '42P01' || code === '3F000') throw new SignInUnavailable('invoicing.sign_in_tokens does not exist');
    throw err;
  }
}

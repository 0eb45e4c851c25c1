// Who may call metering: the admin token (ADMIN_TOKEN) everywhere, and
// publisher tokens on POST /v1/events alone. Publisher tokens are invoicing's
// (`vault token create --publisher`): metering reads only the view invoicing
// publishes, `invoicing.publisher_tokens(id, hash)` of the live ones (sha256
// hex of the value), on every request, so a revoked or expired token stops at
// once. Without invoicing's schema no publisher token works; the admin's does.
// Invoicing's account and finance tokens are never metering's, and metering
// cannot tell a real one from a forged one of their shape: see unverifiable.ts.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { unverifiableToken } from './unverifiable.ts';
import { adminOnly, type Logger, type Principal, type Reach, type TokenVerifier } from '@vault/runtime';

/** Publishers reach POST /v1/events; every other route is the admin's alone. */
export const METERING_REACH: Reach = { 'POST /v1/events': ['admin', 'publisher'] };

/** undefined_table, invalid_schema_name: invoicing has not published its tokens in this database. */
const ABSENT = new Set(['42P01', '3F000']);

/** A publisher token's shape (invoicing issues it): anything else is refused without a query. */
const PUBLISHER_TOKEN = /^vt_pub_[A-Za-z0-9_-]{32}$/;

/** The live publisher token with this value, if any. */
export async function publisherToken(pool: pg.Pool, token: string): Promise<Principal | undefined> {
  if (!PUBLISHER_TOKEN.test(token)) return undefined;
  const hash = createHash('sha256').update(token).digest('hex');
  const { rows } = await pool.query<{ id: string }>('select id from invoicing.publisher_tokens where hash = $1', [hash]);
  return rows[0] ? { kind: 'publisher', tokenId: rows[0].id } : undefined;
}

/** Who a token is, and what a 401 says of one metering cannot check (requireBearer's `unverifiable`). */
export interface MeteringAccess {
  verify: TokenVerifier;
  unverifiable: (token: string) => string | undefined;
}

/**
 * ADMIN_TOKEN, else a live publisher token; invoicing's view missing: the admin token only (said
 * once in the log). A token of invoicing's other kinds' shape, or a publisher's while the view is
 * missing, is refused as one metering cannot verify (unverifiableToken), not as invalid.
 */
export function meteringAccess(pool: pg.Pool, adminToken: string, log?: Logger): MeteringAccess {
  const admin = adminOnly(adminToken);
  let said = false;
  let viewMissing = false;
  const verify: TokenVerifier = async (token) => {
    const principal = admin(token);
    if (principal) return principal;
    try {
      const found = await publisherToken(pool, token);
      if (PUBLISHER_TOKEN.test(token)) viewMissing = false;
      return found;
    } catch (err) {
      if (!ABSENT.has((err as { code?: string }).code ?? '')) throw err;
      if (!said) log?.warn('auth.publisher_tokens_unavailable', { reason: 'invoicing.publisher_tokens does not exist in this database' });
      said = true;
      viewMissing = true;
      return undefined;
    }
  };
  return { verify, unverifiable: (token) => unverifiableToken(token, viewMissing) };
}

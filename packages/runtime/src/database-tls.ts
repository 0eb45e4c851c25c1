// TLS to PostgreSQL is asked for in DATABASE_URL, as node-pg reads it. node-pg
// 8 takes sslmode=prefer, require and verify-ca to mean verify-full (the
// certificate checked against Node's CAs), not what libpq means, and says so
// in a ten-line SECURITY WARNING on stderr: `prefer` against a server without
// TLS failed, `require` against a provider's own CA failed its check. So only
// the modes that mean what they say are taken; the others are refused in one
// line naming the ones that work.

/** The sslmode values node-pg takes at their word, and with uselibpqcompat=true (libpq's meanings; no-verify is not one). */
const PLAIN_MODES = new Set(['disable', 'verify-full', 'no-verify']);
const LIBPQ_MODES = new Set(['disable', 'require', 'verify-full']);

const WORKING =
  'write sslmode=verify-full (TLS, the certificate checked against the system CAs, or sslrootcert=FILE), ' +
  'sslmode=no-verify (TLS, the certificate not checked) or sslmode=disable (no TLS)';

/** What is wrong with the TLS settings of a DATABASE_URL's query, if anything. */
export function databaseTlsProblem(query: URLSearchParams): string | undefined {
  // node-pg takes the last of several, URLSearchParams the first: one, or none.
  for (const name of ['sslmode', 'uselibpqcompat']) if (query.getAll(name).length > 1) return `${name} is given more than once`;
  const mode = query.get('sslmode');
  if (mode === null) return undefined;
  if (mode === 'prefer' || mode === 'allow') {
    return `sslmode=${mode} is not supported: node-pg never falls back between TLS and no TLS; ${WORKING}`;
  }
  // node-pg's opt-in to libpq's meanings, which its warning suggests.
  if (query.get('uselibpqcompat') === 'true') {
    if (LIBPQ_MODES.has(mode)) return undefined;
    if (mode === 'verify-ca') {
      return query.get('sslrootcert') ? undefined : 'sslmode=verify-ca needs sslrootcert=FILE, the CA to check the certificate against';
    }
    // no-verify among them: node-pg would take it as verify-full.
    return `with uselibpqcompat=true, sslmode must be disable, require, verify-ca or verify-full, not ${JSON.stringify(mode)}`;
  }
  if (PLAIN_MODES.has(mode)) return undefined;
  if (mode === 'require' || mode === 'verify-ca') {
    return `sslmode=${mode} would mean verify-full to node-pg, not what libpq means; ${WORKING}, or add uselibpqcompat=true for libpq's ${mode}`;
  }
  return `sslmode must be disable, verify-full or no-verify (or require or verify-ca with uselibpqcompat=true), not ${JSON.stringify(mode)}`;
}

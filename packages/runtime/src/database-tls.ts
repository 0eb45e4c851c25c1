// TLS to PostgreSQL is asked for in DATABASE_URL, as node-pg reads it. node-pg
// 8 takes sslmode=prefer, require and verify-ca to mean verify-full (the
// certificate checked against Node's CAs), not what libpq means, and says so
// in a ten-line SECURITY WARNING on stderr: `prefer` against a server without
// TLS failed, `require` against a provider's own CA failed its check. So only
// the modes that mean what they say are taken; the others are refused in one
// line naming the ones that work.
import { accessSync, constants, statSync } from 'node:fs';
import { sslFlagProblem } from './database-ssl-flag.ts';

/** The sslmode values node-pg takes at their word, and with uselibpqcompat=true (libpq's meanings; no-verify is not one). */
const PLAIN_MODES = new Set(['disable', 'verify-full', 'no-verify']);
const LIBPQ_MODES = new Set(['disable', 'require', 'verify-full']);

/** The forms that work, each written as `prefix` + mode (`sslmode=` in the URL, nothing for PGSSLMODE). */
const working = (prefix: string) =>
  `write ${prefix}verify-full (TLS, the certificate checked against the system CAs, or sslrootcert=FILE), ` +
  `${prefix}no-verify (TLS, the certificate not checked) or ${prefix}disable (no TLS)`;
const WORKING = working('sslmode=');

/** The query parameters whose file node-pg reads (pg-connection-string, readFileSync) when it first connects. */
const FILE_PARAMETERS = ['sslrootcert', 'sslcert', 'sslkey'] as const;

/** What is wrong with the TLS settings of a DATABASE_URL's query, if anything. */
export function databaseTlsProblem(query: URLSearchParams): string | undefined {
  // node-pg takes the last of several, URLSearchParams the first: one, or none.
  for (const name of ['sslmode', 'uselibpqcompat']) if (query.getAll(name).length > 1) return `${name} is given more than once`;
  return sslFlagProblem(query) ?? sslModeProblem(query) ?? tlsFileProblem(query);
}

function sslModeProblem(query: URLSearchParams): string | undefined {
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

/**
 * libpq 16 takes sslrootcert=system as "the system's CAs"; node-pg (pg-connection-string 2.x) reads
 * it as a file named `system` in the working directory, so it failed as "no such file".
 */
const SYSTEM_ROOT_CERT =
  "sslrootcert=system (libpq's system CAs) is not supported by node-pg, which reads sslrootcert as a file name; " +
  "leave sslrootcert out: sslmode=verify-full checks the certificate against Node's CAs (add one with NODE_EXTRA_CA_CERTS), " +
  'or write ./system for a file of that name';

/**
 * A certificate or key file node-pg cannot read. It reads them when the pool
 * opens its first connection, so a missing one was reported as "cannot reach
 * PostgreSQL" with the OS's ENOENT; here it is named with its parameter.
 */
function tlsFileProblem(query: URLSearchParams): string | undefined {
  for (const name of FILE_PARAMETERS) {
    for (const path of query.getAll(name)) {
      // node-pg skips an empty one.
      if (path === '') continue;
      if (name === 'sslrootcert' && path === 'system') return SYSTEM_ROOT_CERT;
      const problem = unreadable(path);
      if (problem) return `${name}=${path}: ${problem}`;
    }
  }
  return undefined;
}

function unreadable(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return 'not a file';
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    switch ((err as { code?: string }).code) {
      case 'ENOENT':
      case 'ENOTDIR':
        return 'no such file';
      case 'EACCES':
      case 'EPERM':
        return 'not readable (permission denied)';
      default:
        return `cannot be read (${(err as { code?: string }).code ?? String(err)})`;
    }
  }
}

/**
 * What is wrong with PGSSLMODE, node-pg's environment variable for TLS, if
 * anything. node-pg honours it for a connection whose URL sets none of ssl,
 * sslmode, sslrootcert, sslcert or sslkey, and reads it as it reads the URL's
 * sslmode (prefer, require and verify-ca as verify-full, a value it does not
 * know as no TLS at all, silently); uselibpqcompat does not apply to it.
 */
export function pgSslModeProblem(mode: string): string | undefined {
  if (PLAIN_MODES.has(mode)) return undefined;
  if (mode === 'prefer' || mode === 'allow') {
    return `${mode} is not supported: node-pg never falls back between TLS and no TLS; ${working('PGSSLMODE=')}, or set sslmode in DATABASE_URL`;
  }
  if (mode === 'require' || mode === 'verify-ca') {
    return (
      `${mode} would mean verify-full to node-pg, not what libpq means; ${working('PGSSLMODE=')}, ` +
      `or put uselibpqcompat=true&sslmode=${mode} in DATABASE_URL for libpq's ${mode}`
    );
  }
  return `must be disable, verify-full or no-verify (node-pg would connect without TLS), not ${JSON.stringify(mode)}`;
}

// DATABASE_URL's `ssl=` (node-pg's older switch), as pg-connection-string 2.x and
// node-pg 8 read it: `true` and `1` are TLS with the certificate checked
// (verify-full), `no-verify` is TLS unchecked, `0` is no TLS. Any other value stays
// a string that node-pg takes as TLS on, so `ssl=false`, `ssl=no` or `ssl=off`
// silently meant TLS with verification, and `ssl=` (empty) meant no TLS. And once
// sslmode, sslrootcert, sslcert or sslkey is given, node-pg drops ssl's value for
// their settings: `ssl=0&sslrootcert=…` was TLS.

/** The ssl values node-pg takes at their word, and what each means. */
const SSL_VALUES = new Map([
  ['true', 'TLS, the certificate checked'],
  ['1', 'TLS, the certificate checked'],
  ['no-verify', 'TLS, the certificate not checked'],
  ['0', 'no TLS'],
]);

const ACCEPTED = 'ssl must be true or 1 (TLS, the certificate checked), no-verify (TLS, not checked) or 0 (no TLS)';

/** The parameters that make node-pg ignore ssl's value. */
const OVERRIDING = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const;

/** What is wrong with the query's ssl parameter, if anything. */
export function sslFlagProblem(query: URLSearchParams): string | undefined {
  const values = query.getAll('ssl');
  if (values.length === 0) return undefined;
  // node-pg takes the last of several, URLSearchParams the first: one, or none.
  if (values.length > 1) return 'ssl is given more than once';
  const value = values[0]!;
  if (!SSL_VALUES.has(value)) return `${ACCEPTED}, not ${JSON.stringify(value)} (node-pg would take it as TLS on)`;
  if (query.has('sslmode')) return `give ssl or sslmode, not both: node-pg ignores ssl=${value} when sslmode is given`;
  const overriding = OVERRIDING.find((name) => query.has(name));
  // With a certificate file node-pg uses TLS, checked: only ssl=true/1 says what happens.
  if (overriding && value !== 'true' && value !== '1') {
    return `ssl=${value} is ignored by node-pg when ${overriding} is given (it uses TLS, the certificate checked); write sslmode instead`;
  }
  return undefined;
}

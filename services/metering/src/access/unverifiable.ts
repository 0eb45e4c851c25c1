// What metering says of a token it does not know but can name without trusting it. Invoicing
// issues every stored token (`vt_acct_…`, `vt_fin_…`, `vt_pub_…`, issueToken); metering reads only
// its publisher tokens (invoicing.publisher_tokens), so a real account or finance token and a
// forged one of the same shape look alike here: it is neither "invalid" (it may work on
// invoicing) nor known (a 403 would say it is real). The answer is 401 with why metering cannot
// verify it, counted as a failed authentication like any unknown token.

/** The shape issueToken gives invoicing's tokens (a kind's prefix, 24 random bytes in base64url). */
const INVOICING_TOKEN = /^vt_(acct|fin|pub)_[A-Za-z0-9_-]{32}$/;

const ARTICLED = { acct: 'an account token', fin: 'a finance token', pub: 'a publisher token' } as const;

/**
 * Why metering cannot verify `token`: invoicing's account and finance tokens always, a publisher
 * token while invoicing's view of them is missing from the database; undefined for any other
 * token (an unknown, revoked or expired publisher token, junk: `invalid token`).
 */
export function unverifiableToken(token: string, publisherViewMissing: boolean): string | undefined {
  const kind = INVOICING_TOKEN.exec(token)?.[1] as keyof typeof ARTICLED | undefined;
  if (kind === undefined) return undefined;
  if (kind !== 'pub') return `metering cannot verify ${ARTICLED[kind]} (invoicing's)`;
  return publisherViewMissing ? `metering cannot verify ${ARTICLED.pub}: invoicing's tokens are not in this database` : undefined;
}

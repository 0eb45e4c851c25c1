import { parseArgs } from 'node:util';
import { DateTime } from 'luxon';
import type pg from 'pg';
import { Id } from '@vault/contracts';
import { signInLinkFor } from '../access/sign-in-links.ts';
import { invoicingWebUrl } from '../config.ts';
import { accountHasTokens, issueToken, listTokens, revokeToken, type TokenFilter, type TokenGrant } from '../access/tokens.ts';
import { isKnownAccount } from '../billing/credit-accounts.ts';
import { MeteringNotReadyError } from '../billing/metering-schema.ts';
import { expiresAfter } from './expires.ts';
import { ensureInvoicingSchema } from './migrations.ts';
import { CliUsageError } from './usage.ts';

/** What `vault token …` asks for. */
export type TokenRequest =
  | { action: 'create'; grant: TokenGrant; expiresInSeconds?: number }
  | ({ action: 'list' } & TokenFilter)
  | { action: 'revoke'; id: string };

const ACTIONS = ['create', 'list', 'revoke'] as const;
const isAction = (a: string | undefined): a is TokenRequest['action'] => ACTIONS.includes(a as TokenRequest['action']);
const TOKEN_ID = /^tok_[0-9a-f]{16}$/;

/**
 * `create --account ID | --finance | --publisher [--expires DURATION]`,
 * `list [--live] [--account ID]`, `revoke ID`: a usage error names what is wrong. DURATION counts from `now`.
 */
export function parseTokenArgs(args: string[], now: DateTime = DateTime.utc()): TokenRequest {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        account: { type: 'string' },
        finance: { type: 'boolean' },
        publisher: { type: 'boolean' },
        expires: { type: 'string' },
        live: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new CliUsageError(`token: ${(err as Error).message}`);
  }
  const [action, ...rest] = parsed.positionals;
  if (!isAction(action))
    throw new CliUsageError(`token: ${action === undefined ? 'what to do?' : `unknown action ${action};`} one of ${ACTIONS.join(', ')}`);
  const { account, finance, publisher, expires, live } = parsed.values;
  if (action !== 'create') {
    const given = [
      action === 'revoke' && account !== undefined && '--account',
      finance && '--finance',
      publisher && '--publisher',
      expires !== undefined && '--expires',
    ];
    const option = given.find(Boolean);
    if (option) throw new CliUsageError(`token ${action}: ${option} is an option of token create`);
  }
  if (action !== 'list' && live) throw new CliUsageError(`token ${action}: --live is an option of token list`);
  if (action === 'list') {
    if (rest.length > 0) throw new CliUsageError(`token list: unexpected argument ${rest[0]}`);
    if (account === undefined) return { action, live: live === true };
    const id = Id.safeParse(account);
    if (!id.success) throw new CliUsageError('token list: --account must be 1 to 128 characters');
    return { action, live: live === true, accountId: id.data };
  }
  if (action === 'revoke') {
    const [id, ...extra] = rest;
    if (id === undefined) throw new CliUsageError('token revoke: which token? give its id (tok_…, as `vault token list` shows)');
    if (extra.length > 0) throw new CliUsageError(`token revoke: unexpected argument ${extra[0]}`);
    if (!TOKEN_ID.test(id)) throw new CliUsageError(`token revoke: ${JSON.stringify(id)} is not a token id (tok_ and 16 hex digits)`);
    return { action, id };
  }
  if (rest.length > 0) throw new CliUsageError(`token create: unexpected argument ${rest[0]}`);
  const kinds = [account !== undefined, finance === true, publisher === true].filter(Boolean).length;
  if (kinds !== 1)
    throw new CliUsageError(`token create: give ${kinds === 0 ? 'one' : 'only one'} of --account ID, --finance or --publisher`);
  const expiresInSeconds = expires === undefined ? undefined : expiresOption(expires, now);
  const grant: TokenGrant | undefined = finance ? { kind: 'finance' } : publisher ? { kind: 'publisher' } : undefined;
  if (grant) return { action, grant, expiresInSeconds };
  const id = Id.safeParse(account);
  if (!id.success) throw new CliUsageError('token create: --account must be 1 to 128 characters');
  return { action, grant: { kind: 'account', accountId: id.data }, expiresInSeconds };
}

/** `--expires DURATION` as seconds from now: the rule `vault credit grant --expires` follows too (expires.ts). */
function expiresOption(text: string, now: DateTime): number {
  const end = expiresAfter('token create', text, now);
  return (end.toMillis() - now.toMillis()) / 1000;
}

export interface CreatedToken {
  /** The public id, for `vault token list` and `revoke`. */
  id: string;
  /** The bearer token, shown this once. */
  token: string;
  expiresAt: Date | null;
  /** For an account's customer: a sign-in link (single use, 15 minutes), not the token. */
  signInUrl?: string;
}

/** Creates the token (invoicing's schema first, idempotently). Only its hash is stored. */
export async function runTokenCreate(
  pool: pg.Pool,
  grant: TokenGrant,
  web: { INVOICING_WEB_URL?: string | undefined; INVOICING_PORT: number },
  options: { expiresInSeconds?: number } = {},
): Promise<CreatedToken> {
  await ensureInvoicingSchema(pool);
  const { id, token, expiresAt } = await issueToken(pool, grant, options);
  if (grant.kind !== 'account') return { id, token, expiresAt };
  // The customer opens it: where invoices are opened (INVOICING_WEB_URL), else the local address.
  return { id, token, expiresAt, signInUrl: await signInLinkFor(pool, token, invoicingWebUrl(web)) };
}

/** A cell's length in code points, as PostgreSQL's char_length counts the widths: an astral character is one, not two. */
export function codePoints(cell: string): number {
  if (!/[\uD800-\uDFFF]/.test(cell)) return cell.length;
  let n = 0;
  for (const _ of cell) n++;
  return n;
}

/** `cell` padded with spaces to `width` code points; a longer cell is never cut. */
const pad = (cell: string, width: number) => cell + ' '.repeat(Math.max(0, width - codePoints(cell)));

/** How `vault token list` ended: status 1, with `note` for stderr, when `--account` names an account invoicing never saw. */
export interface TokenListOutcome {
  status: 0 | 1;
  note?: string;
}

/**
 * `vault token list`: one line per token, oldest first, with a header; never a value or a hash.
 * Written a page of tokens at a time (`write` waits for the reader, no transaction open meanwhile):
 * the widths come from the database first, since spreading a width per token into Math.max overflowed
 * the stack at about 130,000 tokens. `filter`: only live tokens, only an account's. A column is as wide
 * as its longest cell, in code points (PostgreSQL's char_length). `--account` of an account with no
 * token at all that invoicing has never seen (as `vault credit grant` judges it) is likely a typo:
 * nothing on stdout, status 1 and a note, where one it knows with none listed is the header alone.
 */
export async function runTokenList(
  pool: pg.Pool,
  write: (text: string) => Promise<void> | void,
  filter: TokenFilter = {},
  page?: number,
): Promise<TokenListOutcome> {
  await ensureInvoicingSchema(pool);
  const when = (d: Date | null) => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');
  const header = ['ID', 'KIND', 'ACCOUNT', 'CREATED', 'EXPIRES', 'STATE'];
  let widths: number[] = [];
  let empty = false;
  const line = (r: string[]) => r.map((cell, i) => (i === r.length - 1 ? cell : pad(cell, widths[i]!))).join('  ');
  await listTokens(
    pool,
    {
      async extent(e) {
        const stamp = e.count > 0 ? when(new Date(0)).length : 0;
        widths = [e.id, e.kind, e.account, stamp, e.expires ? stamp : 1].map((w, i) => Math.max(w, header[i]!.length));
        // An account's listing with nothing to list: the header waits for whether invoicing knows the account,
        // asked once the listing's session is let go (a pool of one would wait for it for ever).
        empty = e.count === 0 && filter.accountId !== undefined;
        if (!empty) await write(`${line(header)}\n`);
      },
      async page(tokens) {
        let text = '';
        for (const t of tokens) {
          text += `${line([t.id, t.kind, t.accountId ?? '-', when(t.createdAt), when(t.expiresAt), t.live ? 'live' : t.revokedAt ? 'revoked' : 'expired'])}\n`;
        }
        await write(text);
      },
    },
    filter,
    page,
  );
  const note = empty ? await unseenAccount(pool, filter.accountId!) : undefined;
  if (note) return { status: 1, note };
  if (empty) await write(`${line(header)}\n`);
  return { status: 0 };
}

/** Why an account with nothing listed is reported (undefined: it has tokens, or invoicing knows it). */
async function unseenAccount(pool: pg.Pool, accountId: string): Promise<string | undefined> {
  if (await accountHasTokens(pool, accountId)) return undefined;
  const said = `no tokens for account ${accountId}`;
  try {
    return (await isKnownAccount(pool, accountId)) ? undefined : `${said} (an account invoicing has not seen)`;
  } catch (err) {
    // Invoicing's own tables said no; whether it ever owned an app is metering's to say, not there yet.
    if (!(err instanceof MeteringNotReadyError)) throw err;
    return `${said} (an account invoicing has not seen; metering's schema is not in this database, so no app owner was looked at)`;
  }
}

/** `vault token revoke ID`: what happened, in one line; exit 1 for an unknown id. */
export async function runTokenRevoke(pool: pg.Pool, id: string): Promise<{ status: number; line: string }> {
  await ensureInvoicingSchema(pool);
  const result = await revokeToken(pool, id);
  if (result.outcome === 'unknown') return { status: 1, line: `token revoke: no token ${id} (\`vault token list\` shows them)` };
  const { token } = result;
  const whose = `${token.kind} token${token.accountId ? ` of ${token.accountId}` : ''}`;
  if (result.outcome === 'already') return { status: 0, line: `${id} (${whose}) was already revoked at ${token.revokedAt!.toISOString()}` };
  return { status: 0, line: `revoked ${id} (${whose}): it stops working now` };
}

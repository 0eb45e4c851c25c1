import { parseTokenArgs, runTokenCreate, runTokenList, runTokenRevoke } from '@vault/invoicing/cli';
import { parseCommand, pickSubcommand, type CommandSpec, type GroupSpec } from './command.ts';
import { asUsage, openQuietDatabase } from './export.ts';
import { cliSettings } from './settings.ts';

const tokenCreateSpec: CommandSpec = {
  name: 'token create',
  synopsis: '--account ID | --finance | --publisher [--expires DURATION]',
  summary: "print a new bearer token for one account's customer (sign-in link on stderr), for finance, or for a publisher",
  details:
    'The token alone goes to stdout, shown this once: only its hash is kept. Its id (tok_…),\n' +
    'for `vault token list` and `vault token revoke`, goes to stderr.',
  options: {
    account: { type: 'string', value: 'ID', help: "a token for this account's customer (that account's API)" },
    finance: { type: 'boolean', help: 'a finance token (exports, the holds report)' },
    publisher: { type: 'boolean', help: "a publisher token (metering's POST /v1/events, nothing else)" },
    expires: { type: 'string', value: 'DURATION', help: 'it stops working this long from now (ISO-8601: P90D, PT12H); default never' },
  },
};

const tokenListSpec: CommandSpec = {
  name: 'token list',
  summary: 'list the tokens: id, kind, account, created, expires, live/revoked/expired (never a token itself)',
};

const tokenRevokeSpec: CommandSpec = {
  name: 'token revoke',
  synopsis: 'ID',
  summary: 'revoke a token by its id (tok_…): it stops working at once',
  details: 'Exit status 1 when no token has that id. The admin token (ADMIN_TOKEN) is not a stored token: change the variable.',
  positionals: 1,
};

export const tokenSpec: GroupSpec = {
  name: 'token',
  summary: 'bearer tokens for the invoicing API and UI, and for publishers',
  subcommands: [tokenCreateSpec, tokenListSpec, tokenRevokeSpec],
};

/**
 * `vault token create --account ID | --finance | --publisher [--expires DURATION]`:
 * the new bearer token alone on stdout (shown once, only its hash is kept), its
 * id on stderr, and for an account the customer's sign-in link on stderr.
 * `vault token list`: the tokens, never their values. `vault token revoke ID`.
 */
export async function tokenCommand(args: string[]): Promise<number> {
  const sub = pickSubcommand(tokenSpec, args);
  parseCommand(sub.spec, sub.args);
  const request = asUsage(() => parseTokenArgs(args), sub.spec);
  const settings = cliSettings();
  const db = await openQuietDatabase(settings);
  try {
    if (request.action === 'list') {
      for (const line of await runTokenList(db.pool)) process.stdout.write(`${line}\n`);
      return 0;
    }
    if (request.action === 'revoke') {
      const { status, line } = await runTokenRevoke(db.pool, request.id);
      (status === 0 ? process.stdout : process.stderr).write(`${line}\n`);
      return status;
    }
    const { grant, expiresInSeconds } = request;
    const created = await runTokenCreate(db.pool, grant, settings.INVOICING_PORT, { expiresInSeconds });
    process.stdout.write(`${created.token}\n`);
    const expires = created.expiresAt ? `expires ${created.expiresAt.toISOString()}` : 'never expires';
    process.stderr.write(`${grant.kind} token ${created.id} (${expires}); revoke it with \`vault token revoke ${created.id}\`\n`);
    if (grant.kind === 'account' && created.signInUrl) process.stderr.write(`sign-in link for ${grant.accountId}: ${created.signInUrl}\n`);
    else if (grant.kind === 'finance')
      process.stderr.write('finance token: use it as `Authorization: Bearer <token>` for exports and the holds report\n');
    else if (grant.kind === 'publisher')
      process.stderr.write("publisher token: use it as `Authorization: Bearer <token>` for metering's POST /v1/events\n");
    return 0;
  } finally {
    await db.close();
  }
}

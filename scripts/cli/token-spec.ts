// `vault token`: its usage and options, apart from what it does (token.ts), so that
// `vault help` and `--help` load this alone.
import type { CommandSpec, GroupSpec } from './command.ts';

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
    expires: {
      type: 'string',
      value: 'DURATION',
      help: 'it stops working this long from now (ISO 8601, any case: P90D, PT12H, P2W, P6M, P1Y; at most P100Y); default never',
    },
  },
};

const tokenListSpec: CommandSpec = {
  name: 'token list',
  synopsis: '[--live] [--account ID]',
  summary: 'list the tokens: id, kind, account, created, expires, live/revoked/expired (never a token itself)',
  details:
    'Oldest first, a page at a time: revoked and expired tokens are kept, so the list grows with every token made.\n' +
    'Exit status 1, saying so on stderr, when --account names an account with no token that invoicing has never seen.',
  options: {
    live: { type: 'boolean', help: 'only the tokens that work now (neither revoked nor expired)' },
    account: { type: 'string', value: 'ID', help: "only this account's tokens" },
  },
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

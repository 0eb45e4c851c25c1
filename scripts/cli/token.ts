import { parseTokenArgs, runTokenCreate } from '@vault/invoicing/cli';
import { parseCommand, pickSubcommand, type CommandSpec, type GroupSpec } from './command.ts';
import { asUsage, openQuietDatabase } from './export.ts';
import { cliSettings } from './settings.ts';

const tokenCreateSpec: CommandSpec = {
  name: 'token create',
  synopsis: '--account ID | --finance',
  summary: "print a new bearer token for one account's customer (sign-in link on stderr), or for finance",
  details: 'The token alone goes to stdout, shown this once: only its hash is kept.',
  options: {
    account: { type: 'string', value: 'ID', help: "a token for this account's customer" },
    finance: { type: 'boolean', help: 'a finance token (exports, the holds report)' },
  },
};

export const tokenSpec: GroupSpec = {
  name: 'token',
  summary: 'bearer tokens for the invoicing API and UI',
  subcommands: [tokenCreateSpec],
};

/**
 * `vault token create --account ID | --finance`: the new bearer token alone on
 * stdout (it is shown once, only its hash is kept); for an account, the
 * customer's sign-in link on stderr.
 */
export async function tokenCommand(args: string[]): Promise<number> {
  const sub = pickSubcommand(tokenSpec, args);
  parseCommand(sub.spec, sub.args);
  const grant = asUsage(() => parseTokenArgs(args), sub.spec);
  const settings = cliSettings();
  const db = await openQuietDatabase(settings);
  try {
    const created = await runTokenCreate(db.pool, grant, settings.INVOICING_PORT);
    process.stdout.write(`${created.token}\n`);
    if (created.signInUrl)
      process.stderr.write(`sign-in link for ${grant.kind === 'account' ? grant.accountId : ''}: ${created.signInUrl}\n`);
    else process.stderr.write('finance token: use it as `Authorization: Bearer <token>` for exports and the holds report\n');
    return 0;
  } finally {
    await db.close();
  }
}

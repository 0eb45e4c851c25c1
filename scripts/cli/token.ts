import { parseTokenArgs, runTokenCreate } from '@vault/invoicing/cli';
import { cliSettings } from './settings.ts';
import { asUsage, openQuietDatabase } from './export.ts';

/**
 * `vault token create --account ID | --finance`: the new bearer token alone on
 * stdout (it is shown once, only its hash is kept); for an account, the
 * customer's sign-in link on stderr.
 */
export async function tokenCommand(args: string[]): Promise<number> {
  const grant = asUsage(() => parseTokenArgs(args));
  const settings = cliSettings();
  const db = await openQuietDatabase(settings);
  try {
    const created = await runTokenCreate(db.pool, grant, settings.INVOICING_PORT);
    process.stdout.write(`${created.token}\n`);
    if (created.signInUrl) process.stderr.write(`sign-in link for ${grant.kind === 'account' ? grant.accountId : ''}: ${created.signInUrl}\n`);
    else process.stderr.write('finance token: use it as `Authorization: Bearer <token>` for exports and the holds report\n');
    return 0;
  } finally {
    await db.close();
  }
}

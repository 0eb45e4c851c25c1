import type { Database } from '@vault/db';
import { parseTokenArgs, runTokenCreate, runTokenList, runTokenRevoke } from '@vault/invoicing/cli';
import { parseCommand, pickSubcommand } from './command.ts';
import { asUsage, openQuietDatabase } from './export.ts';
import { cliSettings } from './settings.ts';
import { stdoutFailure, writeStdout } from './stdout.ts';
import { tokenSpec } from './token-spec.ts';

/**
 * `vault token create --account ID | --finance | --publisher [--expires DURATION]`:
 * the new bearer token alone on stdout (shown once, only its hash is kept), its
 * id on stderr, and for an account the customer's sign-in link on stderr.
 * `vault token list [--live] [--account ID]`: the tokens, never their values. `vault token revoke ID`.
 * A token whose write to stdout failed (the reader gone) is revoked: exit 1.
 */
export async function tokenCommand(args: string[]): Promise<number> {
  const sub = pickSubcommand(tokenSpec, args);
  parseCommand(sub.spec, sub.args);
  const request = asUsage(() => parseTokenArgs(args), sub.spec);
  const settings = cliSettings({ apps: ['invoicing'] });
  const db = await openQuietDatabase(settings);
  try {
    if (request.action === 'list') {
      // A page of lines at a time, each handed to the reader before the next is read: memory holds
      // one page. The reader gone (`| head -1`), the listing stops and says so in one line.
      const { action: _, ...filter } = request;
      const gone = new Error('stdout gone');
      let failed: NodeJS.ErrnoException | undefined;
      const listed = await runTokenList(
        db.pool,
        async (text) => {
          failed = await writeStdout(text);
          if (failed) throw gone;
        },
        filter,
      ).catch((err: unknown) => {
        if (err !== gone) throw err;
      });
      if (failed) {
        process.stderr.write(`${stdoutFailure('token list', failed)}\n`);
        return 1;
      }
      // `--account` of an account invoicing never saw (a typo, most likely): said, exit 1.
      if (listed?.note) process.stderr.write(`vault token list: ${listed.note}\n`);
      return listed?.status ?? 0;
    }
    if (request.action === 'revoke') {
      const { status, line } = await runTokenRevoke(db.pool, request.id);
      // A failure is the command's, named as every other command names its own (`vault token revoke: …`).
      if (status === 0) process.stdout.write(`${line}\n`);
      else process.stderr.write(`vault ${line}\n`);
      return status;
    }
    const { grant, expiresInSeconds } = request;
    const created = await runTokenCreate(db.pool, grant, settings, { expiresInSeconds });
    const failed = await writeStdout(`${created.token}\n`);
    if (failed) return await revokeUnseen(db.pool, created.id, failed);
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

/** The token was never shown: a live token nobody holds must not stay behind, so it is revoked (exit 1, saying so). */
async function revokeUnseen(pool: Database['pool'], id: string, failed: NodeJS.ErrnoException): Promise<number> {
  const what = `${stdoutFailure('token create', failed)} before the token was shown`;
  const revoked = await runTokenRevoke(pool, id).then(
    (r) => (r.status === 0 ? undefined : r.line),
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
  process.stderr.write(
    revoked === undefined
      ? `${what}; it is revoked (${id}), run it again\n`
      : `${what}, and revoking it failed (${revoked}): revoke it with \`vault token revoke ${id}\`\n`,
  );
  return 1;
}

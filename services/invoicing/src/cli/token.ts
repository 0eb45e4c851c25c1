import { parseArgs } from 'node:util';
import type pg from 'pg';
import { Id } from '@vault/contracts';
import { createToken, type TokenGrant } from '../access/tokens.ts';
import { ensureInvoicingSchema } from './migrations.ts';
import { CliUsageError } from './usage.ts';

/** `create --account ID` or `create --finance`: exactly one of the two. */
export function parseTokenArgs(args: string[]): TokenGrant {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { account: { type: 'string' }, finance: { type: 'boolean' } },
    });
  } catch (err) {
    throw new CliUsageError(`token: ${(err as Error).message}`);
  }
  const [action, ...extra] = parsed.positionals;
  if (action !== 'create')
    throw new CliUsageError(`token: ${action === undefined ? 'what to do? only' : `unknown action ${action}; only`} create`);
  if (extra.length > 0) throw new CliUsageError(`token: unexpected argument ${extra[0]}`);
  const { account, finance } = parsed.values;
  if ((account === undefined) === (finance === undefined)) {
    throw new CliUsageError('token create: give either --account ID or --finance');
  }
  if (finance) return { kind: 'finance' };
  const id = Id.safeParse(account);
  if (!id.success) throw new CliUsageError(`token create: --account ${id.error.issues[0]?.message ?? 'is not an account id'}`);
  return { kind: 'account', accountId: id.data };
}

export interface CreatedToken {
  token: string;
  /** For an account's customer: the link that opens a web session. */
  signInUrl?: string;
}

/** Creates the token (invoicing's schema first, idempotently). Only its hash is stored. */
export async function runTokenCreate(pool: pg.Pool, grant: TokenGrant, invoicingPort: number): Promise<CreatedToken> {
  await ensureInvoicingSchema(pool);
  const token = await createToken(pool, grant);
  if (grant.kind === 'finance') return { token };
  return { token, signInUrl: `http://localhost:${invoicingPort}/signin?token=${encodeURIComponent(token)}` };
}

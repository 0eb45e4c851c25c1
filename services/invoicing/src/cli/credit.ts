// `vault credit grant`: an operator's grant to an account's credit balance,
// recorded once per id (a grant sent twice counts once), through the same
// code as POST /v1/accounts/:account_id/credits. Without --id the id is
// derived from what is granted and the day (derivedGrantId), so the same
// command run twice is one grant. `vault credit reverse`: credit-reverse.ts.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Duration } from 'luxon';
import { DateTime } from 'luxon';
import type pg from 'pg';
import { CreditGrantRequest } from '@vault/contracts';
import { createBilling } from '../billing/service.ts';
import { GrantRefused, UnknownAccount } from '../billing/credits.ts';
import { storedGrant } from '../billing/credit-store.ts';
import { loadBilledPriceBook } from '../billing/price-book-file.ts';
import { Money } from '../domain/money.ts';
import type { CommandContext } from './charge.ts';
import { expiresAfter } from './expires.ts';
import { ensureInvoicingSchema } from './migrations.ts';
import { CliUsageError } from './usage.ts';

export { creditReverseCommand, parseCreditReverseArgs } from './credit-reverse.ts';

/** The grant as asked: its id is --id's, or none until the command derives one (derivedGrantId). */
export type AskedGrant = Omit<CreditGrantRequest, 'id'> & { id?: string };

export interface CreditGrantArgs {
  accountId: string;
  request: AskedGrant;
  /** --expires as a duration (P90D): its instant counts from this run's now. */
  expiresIn: string | undefined;
  /** --expires as typed: a derived id is made of it, not of the instant a duration gives. */
  expiresGiven: string | undefined;
}

/** Without --id: checked as the request will be, the id apart. */
const AskedGrantRequest = CreditGrantRequest.partial({ id: true });

/**
 * `--account ID --amount 10.00 --reason TEXT [--expires WHEN] [--id ID] [--new-account]`:
 * WHEN is an ISO 8601 instant (2027-01-01T00:00:00Z) or a duration from now
 * (P90D); without --id the command derives one (derivedGrantId). Throws
 * CliUsageError naming the option.
 */
export function parseCreditGrantArgs(args: string[], now: DateTime = DateTime.utc()): CreditGrantArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        account: { type: 'string' },
        amount: { type: 'string' },
        reason: { type: 'string' },
        expires: { type: 'string' },
        id: { type: 'string' },
        'new-account': { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new CliUsageError(`credit grant: ${(err as Error).message}`);
  }
  for (const required of ['account', 'amount', 'reason'] as const) {
    if (values[required] === undefined) throw new CliUsageError(`credit grant: --${required} is required`);
  }
  const account = values.account!;
  if (account.length === 0 || account.length > 128) throw new CliUsageError('credit grant: --account must be 1 to 128 characters');
  const parsed = AskedGrantRequest.safeParse({
    ...(values.id === undefined ? {} : { id: values.id }),
    amount: values.amount,
    reason: values.reason,
    ...(values.expires === undefined ? {} : { expires_at: expiry(values.expires, now) }),
    ...(values['new-account'] ? { new_account: true } : {}),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const option = { id: 'id', amount: 'amount', reason: 'reason', expires_at: 'expires' }[String(issue.path[0])] ?? String(issue.path[0]);
    // The API takes an instant; the CLI also takes a duration from now.
    const message =
      option === 'expires' ? 'must be an ISO 8601 instant such as "2027-01-01T00:00:00Z" or a duration such as P90D' : issue.message;
    throw new CliUsageError(`credit grant: --${option} ${message}`);
  }
  return {
    accountId: account,
    request: parsed.data,
    expiresIn: /^P/i.test(values.expires ?? '') ? values.expires : undefined,
    expiresGiven: values.expires,
  };
}

/** What a derived grant id is made of: the grant as typed, its currency, and the UTC day it is run. */
export interface GrantKey {
  accountId: string;
  amount: string;
  currency: string;
  reason: string;
  /** --expires as typed (a duration, not the instant it gives this run), or undefined. */
  expires: string | undefined;
  /** The UTC date, YYYY-MM-DD. */
  date: string;
}

/**
 * The id of a grant given no --id: `grant-YYYYMMDD-<16 hex>`, the day and a
 * hash of the account, amount (as an amount: 10.00 = 010.00), currency, reason
 * and --expires (an instant as UTC). The same command run again the same UTC day is the
 * same grant (a random id granted twice); a second, equal grant that day needs
 * its own --id.
 */
export function derivedGrantId(k: GrantKey): string {
  const what = JSON.stringify([k.accountId, new Money(k.amount).toFixed(2), k.currency, k.reason.trim(), sameExpiry(k.expires)]);
  const hash = createHash('sha256').update(`${k.date}\n${what}`).digest('hex').slice(0, 16);
  return `grant-${k.date.replaceAll('-', '')}-${hash}`;
}

/** --expires as one text per meaning: an instant as UTC (…00Z = …00.000Z = …02:00+02:00), a duration upper-cased. */
function sameExpiry(given: string | undefined): string | null {
  if (given === undefined) return null;
  if (/^P/i.test(given)) return given.toUpperCase();
  const at = DateTime.fromISO(given, { setZone: true });
  return at.isValid ? at.toUTC().toISO()! : given;
}

/** An ISO 8601 instant as given, or a duration (P90D) from now as an instant, by token create's rule (expires.ts). */
function expiry(given: string, now: DateTime): string {
  return /^P/i.test(given) ? expiresAfter('credit grant', given, now).toUTC().toISO()! : given;
}

/** How far a recorded expiry may be from the same duration counted from its grant's time: the first run's clock ran before the grant was written. */
const REPLAY_TOLERANCE_MS = 60_000;

/**
 * A duration counts from each run's now, so the same command again would ask
 * for another expiry: when the grant recorded under this id differs only in
 * its expiry, and that expiry is this duration from when it was granted, the
 * replay takes the recorded one (the same --id changes nothing). Another
 * duration, or an instant recorded, is still the conflict it is.
 */
async function replayedExpiry(
  pool: pg.Pool,
  accountId: string,
  request: CreditGrantRequest,
  duration: string,
): Promise<CreditGrantRequest> {
  const { id: grantId, amount, reason, expires_at } = request;
  const stored = await storedGrant(pool, { grantId, accountId, amount, reason, expiresAt: new Date(expires_at!) });
  if (stored?.outcome !== 'conflict' || stored.differs.join() !== 'expires_at' || stored.grant.expires_at === null) return request;
  const fromGrant = DateTime.fromISO(stored.grant.granted_at, { zone: 'utc' }).plus(Duration.fromISO(duration.toUpperCase()));
  const recorded = DateTime.fromISO(stored.grant.expires_at, { zone: 'utc' });
  if (Math.abs(recorded.toMillis() - fromGrant.toMillis()) > REPLAY_TOLERANCE_MS) return request;
  return { ...request, expires_at: stored.grant.expires_at };
}

/**
 * Records the grant and prints what it did (its id always); exit 1 when the id
 * was used with other values, the expiry has passed, or the account is one
 * invoicing has never seen and --new-account was not given.
 */
export async function creditGrantCommand(args: string[], ctx: CommandContext): Promise<number> {
  const now = DateTime.utc();
  const { accountId, request: typed, expiresIn, expiresGiven } = parseCreditGrantArgs(args, now);
  await ensureInvoicingSchema(ctx.pool);
  const prices = await loadBilledPriceBook(ctx.pool, ctx.settings.PRICE_BOOK, ctx.settings.GATEWAY_MINIMUM_CHARGE);
  const id =
    typed.id ??
    derivedGrantId({
      accountId,
      amount: typed.amount,
      currency: prices.currency,
      reason: typed.reason,
      expires: expiresGiven,
      date: now.toISODate()!,
    });
  const asked: CreditGrantRequest = { ...typed, id };
  const request = expiresIn ? await replayedExpiry(ctx.pool, accountId, asked, expiresIn) : asked;
  const billing = createBilling({ pool: ctx.pool, prices, graceHours: ctx.settings.INVOICE_GRACE_HOURS, log: ctx.log });
  let result;
  try {
    result = await billing.grantCredit(accountId, request);
  } catch (err) {
    if (err instanceof UnknownAccount) {
      ctx.out(`nothing granted: ${err.message}; check --account, or add --new-account to grant to an account that has none of these yet`);
      return 1;
    }
    if (!(err instanceof GrantRefused)) throw err;
    ctx.out(`nothing granted: ${err.message}`);
    return 1;
  }
  const g = result.grant;
  if (result.outcome === 'conflict') {
    ctx.out(
      `nothing granted: credit ${g.id} was already granted to ${g.account_id} with another ${result.differs.join(', ')} (${g.amount} ${g.currency})`,
    );
    return 1;
  }
  const { credit, currency } = await billing.balance(accountId);
  const expires = g.expires_at ? `expires ${g.expires_at}` : 'never expires';
  ctx.out(
    result.outcome === 'created'
      ? `granted ${g.amount} ${g.currency} to ${g.account_id} (credit ${g.id}, ${expires}): ${g.reason}; balance now ${credit} ${currency}`
      : `credit ${g.id} was already granted on ${g.granted_at} (${g.amount} ${g.currency} to ${g.account_id}); nothing changed; balance ${credit} ${currency}`,
  );
  return 0;
}

// The blocked-card probe limit (`cc_forms.blocked_refusals`, migrations 009 and 010). The 422 of a card
// reported stolen tells a signed-in account that this card is blocked here: a card tester with a
// pile of numbers could sort them by it. Each different card refused is counted per account
// (committed before the 422 is answered: crash-only), and past BLOCKED_REFUSALS_PER_HOUR of them in a
// sliding hour the account's card setups are refused 429 before any gateway call, so no card is
// checked at all. A finish already past that first check decides the limit again, with the check of
// its card and the count, in one step under the account's lock (blocked.ts, judgeCard).
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import type { Logger } from '@vault/runtime';
import { decideAttempt, waitWording, WINDOW_SECONDS, type AttemptDecision } from '../domain/rate-limit.ts';
import type { PaymentMethodSeen } from './gateway.ts';

/** A customer types a wrong card in once or twice; a tester far more often. */
export const BLOCKED_REFUSALS_PER_HOUR = 2;

const LOCK = "select pg_advisory_xact_lock(hashtext('cc_forms.blocked_refusals'), hashtext($1))";

const RECENT = `select now() as now,
  array(select at from cc_forms.blocked_refusals where account_id = $1 and at > now() - make_interval(secs => $2) order by at) as at`;

type Recent = { now: Date; at: Date[] };

/**
 * Which card was refused, as the account's own name for it (migration 010): the same card typed in
 * again through another setup intent (an honest retry) teaches nothing new and is not counted again.
 * The gateway's fingerprint (the card number, whatever payment method it was typed into), else the
 * payment method; hashed with the account, so the table holds no fingerprint and matches none across
 * accounts.
 */
export function refusedCardKey(accountId: string, pm: PaymentMethodSeen): string {
  const card = pm.fingerprint ? `fingerprint:${pm.fingerprint}` : `payment_method:${pm.id}`;
  return createHash('sha256').update(`${accountId}\n${card}`).digest('hex');
}

/** Whether the account may have a card checked: refused once BLOCKED_REFUSALS_PER_HOUR are in the hour. Counts nothing. */
export async function blockedRefusalsAllow(pool: pg.Pool, accountId: string): Promise<AttemptDecision> {
  const { rows } = await pool.query<Recent>(RECENT, [accountId, WINDOW_SECONDS]);
  return decideAttempt(rows[0]!.at, BLOCKED_REFUSALS_PER_HOUR, rows[0]!.now);
}

/** The transaction `underBlockedRefusals` gives: the account's limit, decided under its lock, and the count. */
export interface RefusalsStep {
  client: pg.PoolClient;
  limit: AttemptDecision;
  /** Counts the card's refusal (once per card in the hour), committed with the step. */
  count(pm: PaymentMethodSeen, setupIntentId: string): Promise<void>;
}

/**
 * Runs `fn` in one transaction holding the account's blocked-refusals lock, committed when this
 * returns: whatever `fn` decides from `limit` and counts is one step, so concurrent finishes are
 * decided one at a time, each seeing the refusals the earlier ones counted. Keep `fn` to queries
 * (no gateway call): the other finishes of the account wait on the lock holding a connection.
 */
export async function underBlockedRefusals<T>(pool: pg.Pool, accountId: string, fn: (step: RefusalsStep) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    await client.query(LOCK, [accountId]);
    // The table would only grow: the account's rows past the hour go as new ones come.
    await client.query('delete from cc_forms.blocked_refusals where account_id = $1 and at <= now() - make_interval(secs => $2)', [
      accountId,
      WINDOW_SECONDS,
    ]);
    const r = (await client.query<Recent>(RECENT, [accountId, WINDOW_SECONDS])).rows[0]!;
    const limit = decideAttempt(r.at, BLOCKED_REFUSALS_PER_HOUR, r.now);
    const count = async (pm: PaymentMethodSeen, setupIntentId: string) => {
      await client.query(
        'insert into cc_forms.blocked_refusals (account_id, card, setup_intent_id) values ($1, $2, $3) on conflict (account_id, card) do nothing',
        [accountId, refusedCardKey(accountId, pm), setupIntentId],
      );
    };
    return fn({ client, limit, count });
  });
}

/** What the customer reads on this 429: how many, why and when; nothing of which card. */
export function blockedRefusalsMessage(retryAfterSeconds: number): string {
  return (
    `You have tried ${BLOCKED_REFUSALS_PER_HOUR} different cards that cannot be used for payments here in the last hour, the most we allow ` +
    `to protect your account. Please try again ${waitWording(retryAfterSeconds)}. Nothing was saved.`
  );
}

export interface BlockedRefusalsLimited {
  kind: 'rate_limited';
  retryAfterSeconds: number;
  message: string;
}

/** The 429, logged `card.blocked_refusals_limited` (warn) with the account and what was asked, never a card. */
export function blockedRefusalsLimited(
  log: Logger,
  accountId: string,
  retryAfterSeconds: number,
  asked: { setup_intent_id: string } | { step: 'start' },
): BlockedRefusalsLimited {
  log.warn('card.blocked_refusals_limited', {
    account_id: accountId,
    ...asked,
    retry_after_s: retryAfterSeconds,
    'count#card.blocked_refusals_limited': 1,
  });
  return { kind: 'rate_limited', retryAfterSeconds, message: blockedRefusalsMessage(retryAfterSeconds) };
}

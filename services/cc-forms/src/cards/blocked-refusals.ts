// The blocked-card probe limit (`cc_forms.blocked_refusals`, migration 009). The 422 of a card
// reported stolen tells a signed-in account that this card is blocked here: a card tester with a
// pile of numbers could sort them by it. Each refusal is counted per account (committed before the
// 422 is answered: crash-only), and past BLOCKED_REFUSALS_PER_HOUR of them in a sliding hour the
// account's card setups are refused 429 before any gateway call, so no card is checked at all.
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import type { Logger } from '@vault/runtime';
import { decideAttempt, waitWording, WINDOW_SECONDS, type AttemptDecision } from '../domain/rate-limit.ts';

/** A customer types a wrong card in once or twice; a tester far more often. */
export const BLOCKED_REFUSALS_PER_HOUR = 2;

const LOCK = "select pg_advisory_xact_lock(hashtext('cc_forms.blocked_refusals'), hashtext($1))";

const RECENT = `select now() as now,
  array(select at from cc_forms.blocked_refusals where account_id = $1 and at > now() - make_interval(secs => $2) order by at) as at,
  array(select setup_intent_id from cc_forms.blocked_refusals where account_id = $1 and at > now() - make_interval(secs => $2)) as setup_intents`;

type Recent = { now: Date; at: Date[]; setup_intents: string[] };

/** Whether the account may have a card checked: refused once BLOCKED_REFUSALS_PER_HOUR are in the hour. Counts nothing. */
export async function blockedRefusalsAllow(pool: pg.Pool, accountId: string): Promise<AttemptDecision> {
  const { rows } = await pool.query<Recent>(RECENT, [accountId, WINDOW_SECONDS]);
  return decideAttempt(rows[0]!.at, BLOCKED_REFUSALS_PER_HOUR, rows[0]!.now);
}

/**
 * Counts the refusal of the setup intent's card, committed when this returns. Under the account's
 * lock, so concurrent finishes past the first check cannot answer more than the limit's 422s: one
 * that finds the limit reached by others counts nothing and is refused 429 (`allowed: false`). The
 * same setup intent refused again is not counted again (it learns nothing new) and is allowed.
 */
export async function countBlockedRefusal(pool: pg.Pool, accountId: string, setupIntentId: string): Promise<AttemptDecision> {
  return withTransaction(pool, async (client) => {
    await client.query(LOCK, [accountId]);
    // The table would only grow: the account's rows past the hour go as new ones come.
    await client.query('delete from cc_forms.blocked_refusals where account_id = $1 and at <= now() - make_interval(secs => $2)', [
      accountId,
      WINDOW_SECONDS,
    ]);
    const r = (await client.query<Recent>(RECENT, [accountId, WINDOW_SECONDS])).rows[0]!;
    if (r.setup_intents.includes(setupIntentId)) return { allowed: true, remaining: 0 };
    const decision = decideAttempt(r.at, BLOCKED_REFUSALS_PER_HOUR, r.now);
    if (decision.allowed) {
      await client.query('insert into cc_forms.blocked_refusals (account_id, setup_intent_id) values ($1, $2)', [accountId, setupIntentId]);
    }
    return decision;
  });
}

/** What the customer reads on this 429: how many, why and when; nothing of which card. */
export function blockedRefusalsMessage(retryAfterSeconds: number): string {
  return (
    `You have tried ${BLOCKED_REFUSALS_PER_HOUR} cards that cannot be used for payments here in the last hour, the most we allow ` +
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

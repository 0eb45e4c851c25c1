// The durable side of the card attempts rate limit (`cc_forms.card_attempts`).
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import { decideAttempt, WINDOW_SECONDS, type AttemptDecision } from '../domain/rate-limit.ts';

/**
 * Counts one card attempt for the account if the limit allows it. One
 * transaction under a per-account advisory lock, so concurrent attempts (two
 * tabs, a script) cannot both take the last slot; the clock is the database's.
 */
export async function takeCardAttempt(pool: pg.Pool, accountId: string, limit: number): Promise<AttemptDecision> {
  return withTransaction(pool, async (client) => {
    await client.query("select pg_advisory_xact_lock(hashtext('cc_forms.card_attempts'), hashtext($1))", [accountId]);
    await client.query(`delete from cc_forms.card_attempts where account_id = $1 and at <= now() - make_interval(secs => $2)`, [
      accountId,
      WINDOW_SECONDS,
    ]);
    const { rows } = await client.query<{ now: Date; recent: Date[] }>(
      'select now() as now, array(select at from cc_forms.card_attempts where account_id = $1 order by at) as recent',
      [accountId],
    );
    const decision = decideAttempt(rows[0]!.recent, limit, rows[0]!.now);
    if (decision.allowed) await client.query('insert into cc_forms.card_attempts (account_id) values ($1)', [accountId]);
    return decision;
  });
}

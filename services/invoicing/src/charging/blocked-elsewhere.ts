// A fraud block by fingerprint spans accounts (a stolen card is stolen everywhere), so an innocent
// cardholder's own account could be blocked by another account's fraud, with nothing telling an
// operator where the block came from. Each other account whose card on file matches a block just made
// is said at warn, naming both accounts, so an operator can look, and lift the block if it is wrong
// (README, "Cards reported stolen"). Its customer's words do not say a payment of theirs was reported
// (CARD_BLOCKED_ELSEWHERE).
import type { Logger } from '@vault/runtime';
import type pg from 'pg';
import { ccFormsReady } from './cc-forms-schema.ts';

/** Warns `charge.card_blocked_elsewhere` for each other account holding the blocked card; their ids. */
export async function tellBlockedElsewhere(
  deps: { pool: pg.Pool; log: Logger },
  block: { paymentMethodId: string; fingerprint: string | null; accountId: string; disputeId: string },
): Promise<string[]> {
  if (block.fingerprint === null || !(await ccFormsReady(deps.pool))) return [];
  const { rows } = await deps.pool.query<{ account_id: string; payment_method_id: string }>(
    `select account_id, payment_method_id from cc_forms.cards_on_file where fingerprint = $1 and account_id <> $2 order by account_id`,
    [block.fingerprint, block.accountId],
  );
  for (const r of rows) {
    deps.log.warn('charge.card_blocked_elsewhere', {
      account_id: r.account_id,
      payment_method: r.payment_method_id,
      blocked_by_account: block.accountId,
      dispute_id: block.disputeId,
      'count#charge.card_blocked_elsewhere': 1,
    });
  }
  return rows.map((r) => r.account_id);
}

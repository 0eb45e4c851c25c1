// A fraud block by fingerprint spans accounts (a stolen card is stolen everywhere), so an innocent
// cardholder's own account could be blocked by another account's fraud, with nothing telling an
// operator where the block came from. Each other account whose card on file matches a block is said
// at warn, naming both accounts, so an operator can look, and lift the block if it is wrong
// (README, "Cards reported stolen"). Its customer's words do not say a payment of theirs was reported
// (CARD_BLOCKED_ELSEWHERE). Said once per card and block (blocked_elsewhere_told, migration 036):
// at the block, when its fingerprint is filled, or when a pass finds a PaymentIntent waiting on a
// card whose fingerprint was learned since (block-revokes.ts's sweep), whichever comes first.
import type { Logger } from '@vault/runtime';
import type pg from 'pg';
import { ccFormsReady } from './cc-forms-schema.ts';

type Block = { fingerprint: string | null; accountId: string; disputeId: string };

/** Warns `charge.card_blocked_elsewhere` for each other account holding the blocked card not told yet; their ids. */
export async function tellBlockedElsewhere(
  deps: { pool: pg.Pool; log: Logger },
  block: Block & { paymentMethodId: string },
): Promise<string[]> {
  if (block.fingerprint === null || !(await ccFormsReady(deps.pool))) return [];
  const { rows } = await deps.pool.query<{ account_id: string; payment_method_id: string }>(
    `select account_id, payment_method_id from cc_forms.cards_on_file where fingerprint = $1 and account_id <> $2 order by account_id`,
    [block.fingerprint, block.accountId],
  );
  const told: string[] = [];
  for (const r of rows) if (await tellOnce(deps, block, r)) told.push(r.account_id);
  return told;
}

/** Warns for one account's card matching `block`, unless told already; whether it warned. */
export async function tellOnce(
  deps: { pool: pg.Pool; log: Logger },
  block: { accountId: string; disputeId: string },
  card: { account_id: string; payment_method_id: string },
): Promise<boolean> {
  const { rowCount } = await deps.pool.query(
    `insert into invoicing.blocked_elsewhere_told (payment_method_id, dispute_id, account_id) values ($1, $2, $3) on conflict do nothing`,
    [card.payment_method_id, block.disputeId, card.account_id],
  );
  if ((rowCount ?? 0) === 0) return false;
  deps.log.warn('charge.card_blocked_elsewhere', {
    account_id: card.account_id,
    payment_method: card.payment_method_id,
    blocked_by_account: block.accountId,
    dispute_id: block.disputeId,
    'count#charge.card_blocked_elsewhere': 1,
  });
  return true;
}

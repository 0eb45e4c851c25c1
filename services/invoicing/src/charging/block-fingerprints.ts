// A fraud block made without the card's fingerprint (a card saved before cc-forms kept them; the
// gateway not saying which card, dispute-block.ts's charge.card_block_unread) blocked its payment
// method alone, and nothing read it again: the same stolen card typed in again (a new payment
// method, the same fingerprint) was charged. Each charging pass, before anything is charged, gives
// such a block the fingerprint cc-forms has for its payment method now (its own backfill reads the
// gateway's: cards/fingerprint-backfill.ts), so from then on the pass and the re-read before each
// attempt (isBlockedSql) match the card by it too. No gateway call: cc-forms' view is the source.
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import { revokeWaitingOnBlocked } from './block-revokes.ts';
import { tellBlockedElsewhere } from './blocked-elsewhere.ts';
import { ccFormsReady } from './cc-forms-schema.ts';

interface Filled {
  payment_method_id: string;
  fingerprint: string;
  account_id: string;
  dispute_id: string;
}

/**
 * Fills every block without a fingerprint whose payment method cc-forms' view now gives one, in one
 * statement (only where it is still null: a block's fingerprint is written once), logging each row
 * filled once. Then, as a new block is, the PaymentIntents waiting for a cardholder on that card are
 * revoked (canceled by the pass's revokeUnsettled next) and other accounts holding it are named.
 */
export async function fillBlockFingerprints(deps: { pool: pg.Pool; log: Logger; now?: (() => Date) | undefined }): Promise<number> {
  if (!(await ccFormsReady(deps.pool))) return 0;
  const { rows } = await deps.pool.query<Filled>(
    `update invoicing.blocked_payment_methods b set fingerprint = k.fingerprint
       from (select distinct on (payment_method_id) payment_method_id, fingerprint from cc_forms.cards_on_file
              where fingerprint is not null order by payment_method_id, added_at desc) k
      where b.fingerprint is null and k.payment_method_id = b.payment_method_id
      returning b.payment_method_id, b.fingerprint, b.account_id, b.dispute_id`,
  );
  const at = deps.now?.() ?? new Date();
  for (const r of rows) {
    deps.log.warn('charge.block_fingerprint_filled', {
      payment_method: r.payment_method_id,
      account_id: r.account_id,
      dispute_id: r.dispute_id,
      'count#charge.block_fingerprints_filled': 1,
    });
    const block = { paymentMethodId: r.payment_method_id, fingerprint: r.fingerprint, accountId: r.account_id, disputeId: r.dispute_id };
    // Best effort, as after a new block: the fill stands whatever these do.
    await revokeWaitingOnBlocked({ pool: deps.pool, log: deps.log }, block, at).catch((err: unknown) =>
      deps.log.error('charge.revoke_failed', err, { dispute_id: r.dispute_id, payment_method: r.payment_method_id }),
    );
    await tellBlockedElsewhere(deps, block).catch((err: unknown) =>
      deps.log.error('charge.card_blocked_elsewhere_failed', err, { dispute_id: r.dispute_id }),
    );
  }
  return rows.length;
}

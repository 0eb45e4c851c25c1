// A fraud block made without the card's fingerprint (a card saved before cc-forms kept them; the
// gateway not saying which card, dispute-block.ts's charge.card_block_unread) blocked its payment
// method alone, and nothing read it again: the same stolen card typed in again (a new payment
// method, the same fingerprint) was charged. Each charging pass, before anything is charged, gives
// such a block the fingerprint cc-forms has for its payment method now (its own backfill reads the
// gateway's: cards/fingerprint-backfill.ts), else, for a card no longer on file (the customer
// replaced the blocked card: the usual way), the gateway's own (block-card-reads.ts), so from then on
// the pass and the re-read before each attempt (isBlockedSql), and cc-forms' card form, match the
// card by it too. Then the pass's sweep revokes the PaymentIntents waiting on any blocked card
// (block-revokes.ts), a block's new fingerprint's included.
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import { type BlockCardRead, readBlockFingerprints } from './block-card-reads.ts';
import { sweepWaitingOnBlocked } from './block-revokes.ts';
import { tellBlockedElsewhere } from './blocked-elsewhere.ts';
import { ccFormsReady } from './cc-forms-schema.ts';

interface Filled {
  payment_method_id: string;
  fingerprint: string;
  account_id: string;
  dispute_id: string;
}

export interface BlockFillDeps {
  pool: pg.Pool;
  log: Logger;
  now?: (() => Date) | undefined;
  /** The charger's gateway: with cardFingerprint, blocks whose card is no longer on file are read from it. */
  gateway?: { cardFingerprint?: ((paymentMethodId: string) => Promise<BlockCardRead>) | undefined } | undefined;
}

/**
 * Fills every block without a fingerprint whose payment method cc-forms' view now gives one, in one
 * statement (only where it is still null: a block's fingerprint is written once), then reads a few of
 * those left from the gateway, logging each block filled once and naming other accounts holding its
 * card. Then sweeps (sweepWaitingOnBlocked). Each step's failure is logged and the next runs: the
 * charge-time check stands whatever these do. The blocks filled.
 */
export async function fillBlockFingerprints(deps: BlockFillDeps): Promise<number> {
  const at = deps.now?.() ?? new Date();
  const filled: { row: Filled; from: 'cc_forms' | 'gateway' }[] = [];
  await fromCcForms(deps.pool)
    .then((rows) => filled.push(...rows.map((row) => ({ row, from: 'cc_forms' as const }))))
    .catch((err: unknown) => deps.log.error('charge.block_fingerprints_failed', err, { from: 'cc_forms' }));
  const gateway = deps.gateway;
  if (gateway?.cardFingerprint) {
    const read = (pm: string) => gateway.cardFingerprint!(pm);
    await readBlockFingerprints({ pool: deps.pool, log: deps.log, read })
      .then((fills) =>
        filled.push(
          ...fills.map((f) => ({
            row: { payment_method_id: f.paymentMethodId, fingerprint: f.fingerprint, account_id: f.accountId, dispute_id: f.disputeId },
            from: 'gateway' as const,
          })),
        ),
      )
      .catch((err: unknown) => deps.log.error('charge.block_fingerprints_failed', err, { from: 'gateway' }));
  }
  for (const { row: r, from } of filled) {
    deps.log.warn('charge.block_fingerprint_filled', {
      payment_method: r.payment_method_id,
      account_id: r.account_id,
      dispute_id: r.dispute_id,
      ...(from === 'gateway' ? { from } : {}),
      'count#charge.block_fingerprints_filled': 1,
    });
    const block = { paymentMethodId: r.payment_method_id, fingerprint: r.fingerprint, accountId: r.account_id, disputeId: r.dispute_id };
    await tellBlockedElsewhere(deps, block).catch((err: unknown) =>
      deps.log.error('charge.card_blocked_elsewhere_failed', err, { dispute_id: r.dispute_id }),
    );
  }
  // Every pass, not only after a fill: a kill after a fill or a block, or a card's fingerprint learned since.
  await sweepWaitingOnBlocked(deps, at).catch((err: unknown) => deps.log.error('charge.revoke_failed', err, { sweep: true }));
  return filled.length;
}

/** The blocks given the fingerprint cc-forms' view has for their payment method; nothing read when no block lacks one. */
async function fromCcForms(pool: pg.Pool): Promise<Filled[]> {
  const { rows: lacking } = await pool.query<{ any: boolean }>(
    'select exists (select 1 from invoicing.blocked_payment_methods where fingerprint is null) as any',
  );
  if (!lacking[0]?.any || !(await ccFormsReady(pool))) return [];
  const { rows } = await pool.query<Filled>(
    `update invoicing.blocked_payment_methods b set fingerprint = k.fingerprint
       from (select distinct on (payment_method_id) payment_method_id, fingerprint from cc_forms.cards_on_file
              where fingerprint is not null
                and payment_method_id in (select payment_method_id from invoicing.blocked_payment_methods where fingerprint is null)
              order by payment_method_id, added_at desc) k
      where b.fingerprint is null and k.payment_method_id = b.payment_method_id
      returning b.payment_method_id, b.fingerprint, b.account_id, b.dispute_id`,
  );
  return rows;
}

// A card just blocked as stolen (dispute-block.ts) was still offered while its cardholder was on the
// page: an invoice waiting for 3-D Secure keeps its PaymentIntent on the card on file, the invoice
// page offered "Authenticate and pay" and cc-forms' /start handed it over, so the card was charged
// again on-session. Each PaymentIntent waiting for a cardholder on the blocked card (its payment
// method, or its fingerprint as cc-forms has it) is revoked as card testing revokes one
// (revoked_payment_intents, card-testing.ts): canceled now when the gateway is at hand, else by the
// next pass (revokeUnsettled); one paid meanwhile is recorded paid. The row is then scheduled, and the
// pass finds its card blocked: past due, card_reported_fraudulent (decide.ts).
// At the block that is best effort: a kill between the block's commit (or its fingerprint's fill)
// and these revokes, or a card whose fingerprint is learned after the block (a card saved before
// cc-forms kept them), left the PaymentIntent offered for good, and a waiting one has no charge-time
// refusal. So each charging pass also sweeps (sweepWaitingOnBlocked): every row waiting on a card
// blocked as it reads now is revoked, idempotently.
import { withTransaction } from '@vault/db';
import type { Logger } from '@vault/runtime';
import type pg from 'pg';
import { type CardTesting, revokePaymentIntent } from './card-testing.ts';
import { isBlockedSql } from './blocked-cards.ts';
import { tellOnce } from './blocked-elsewhere.ts';
import { ccFormsReady } from './cc-forms-schema.ts';
import { lockInvoice } from './store.ts';

interface Deps {
  pool: pg.Pool;
  log: Logger;
  now?: (() => number) | undefined;
  cardTesting?: CardTesting | undefined;
}

/**
 * Records `row`'s PaymentIntent revoked (revoked_payment_intents: revokeUnsettled cancels it) if the row
 * still waits for a cardholder on it, under the invoice's lock, as every revocation: the row may have
 * moved on since it was read. True when this call revoked it.
 */
async function revokeIfWaiting(
  deps: { pool: pg.Pool; log: Logger },
  row: { invoice_id: string; payment_intent_id: string },
  at: Date,
): Promise<boolean> {
  return withTransaction(
    deps.pool,
    async (client) => {
      await lockInvoice(client, row.invoice_id);
      const { rowCount } = await client.query(
        `insert into invoicing.revoked_payment_intents (payment_intent_id, invoice_id, revoked_at, retry_at)
         select $1, $2, $3, $3 from invoicing.charges c
          where c.invoice_id = $2 and c.payment_intent_id = $1 and c.state = 'action_required'
         on conflict (payment_intent_id) do nothing`,
        [row.payment_intent_id, row.invoice_id, at],
      );
      return (rowCount ?? 0) > 0;
    },
    { log: deps.log, name: 'charging.revoke_blocked_card' },
  );
}

/** Revokes the PaymentIntents waiting for a cardholder on the card of `block`; after the block's transaction. */
export async function revokeWaitingOnBlocked(
  deps: Deps,
  block: { paymentMethodId: string; fingerprint: string | null; disputeId: string },
  at: Date,
): Promise<string[]> {
  const byFingerprint = block.fingerprint !== null && (await ccFormsReady(deps.pool));
  const { rows } = await deps.pool.query<{ invoice_id: string; payment_intent_id: string }>(
    `select c.invoice_id, c.payment_intent_id from invoicing.charges c
      where c.state = 'action_required' and c.payment_intent_id is not null
        and (coalesce(c.pending_payment_method_id, c.last_payment_method_id) = $1
             ${byFingerprint ? `or exists (select 1 from cc_forms.cards_on_file k where k.fingerprint = $2 and k.payment_method_id = coalesce(c.pending_payment_method_id, c.last_payment_method_id))` : ''})`,
    byFingerprint ? [block.paymentMethodId, block.fingerprint] : [block.paymentMethodId],
  );
  const revoked: string[] = [];
  for (const r of rows) {
    if (!(await revokeIfWaiting(deps, r, at))) continue;
    revoked.push(r.payment_intent_id);
    deps.log.warn('charge.blocked_card_intent_revoked', {
      invoice_id: r.invoice_id,
      payment_intent: r.payment_intent_id,
      dispute_id: block.disputeId,
      'count#charges.blocked_card_intents_revoked': 1,
    });
  }
  const gateway = deps.cardTesting?.gateway;
  if (!gateway) return revoked;
  const now = deps.now;
  const revokeDeps = { pool: deps.pool, log: deps.log, gateway, now: now && (() => new Date(now())) };
  for (const r of rows.filter((x) => revoked.includes(x.payment_intent_id))) {
    await revokePaymentIntent(revokeDeps, r.invoice_id, r.payment_intent_id).catch((err: unknown) =>
      deps.log.error('charge.revoke_failed', err, { invoice_id: r.invoice_id, payment_intent: r.payment_intent_id }),
    );
  }
  return revoked;
}

interface Waiting {
  invoice_id: string;
  payment_intent_id: string;
  account_id: string;
  payment_method_id: string;
  blocked_by: string;
  dispute_id: string;
}

/**
 * The charging pass's sweep, before revokeUnsettled (which cancels what this revokes): every charge row
 * waiting for a cardholder whose card (pending, else last) is blocked now (isBlockedSql, by its payment
 * method or by the fingerprint cc-forms has for it on the account's file) and whose PaymentIntent is not
 * revoked yet is revoked, under the invoice's lock. Reads the current state, so it is safe to repeat and
 * finishes what a killed block or fill left. A row on another account's block is told once
 * (charge.card_blocked_elsewhere). The revoked PaymentIntents.
 */
export async function sweepWaitingOnBlocked(deps: { pool: pg.Pool; log: Logger }, at: Date): Promise<string[]> {
  // Before cc-forms' 007 its view has no fingerprint: payment methods alone.
  const byFingerprint = await ccFormsReady(deps.pool);
  const fingerprint = byFingerprint
    ? `(select k.fingerprint from cc_forms.cards_on_file k where k.account_id = i.account_id and k.payment_method_id = m.pm)`
    : 'null::text';
  const { rows } = await deps.pool.query<Waiting>(
    `select c.invoice_id, c.payment_intent_id, i.account_id, p.pm as payment_method_id, b.account_id as blocked_by, b.dispute_id
       from invoicing.charges c
       join invoicing.invoices i on i.id = c.invoice_id
       cross join lateral (select coalesce(c.pending_payment_method_id, c.last_payment_method_id) as pm) m
       cross join lateral (select m.pm, ${fingerprint} as fp) p
       cross join lateral (select b.account_id, b.dispute_id from invoicing.blocked_payment_methods b
                            where b.payment_method_id = p.pm or b.fingerprint = p.fp
                            order by b.account_id = i.account_id desc, b.blocked_at limit 1) b
      where c.state = 'action_required' and c.payment_intent_id is not null
        and not exists (select 1 from invoicing.revoked_payment_intents r where r.payment_intent_id = c.payment_intent_id)
        and ${isBlockedSql('p.pm', 'p.fp')}
      order by c.invoice_id`,
  );
  const revoked: string[] = [];
  for (const r of rows) {
    if (!(await revokeIfWaiting(deps, r, at))) continue;
    revoked.push(r.payment_intent_id);
    deps.log.warn('charge.blocked_card_intent_revoked', {
      invoice_id: r.invoice_id,
      payment_intent: r.payment_intent_id,
      dispute_id: r.dispute_id,
      swept: true,
      'count#charges.blocked_card_intents_revoked': 1,
    });
    if (r.blocked_by !== r.account_id) {
      await tellOnce(deps, { accountId: r.blocked_by, disputeId: r.dispute_id }, r);
    }
  }
  return revoked;
}

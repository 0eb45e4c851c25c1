// Cards reported stolen, refused at the form. Invoicing blocks a card charged back as fraud by its
// payment method and its fingerprint, and publishes the blocks as `invoicing.blocked_cards`
// (its migration 034). The same stolen card typed in again was saved here ("card saved") and refused
// only at the next charge, its invoice gone past due: finishing a setup now asks the view first.
// Services migrate independently: until invoicing's 034 is in this database the card is saved as
// before (invoicing's charger still refuses it), said once per process.
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import { blockedRefusalsLimited, underBlockedRefusals, type BlockedRefusalsLimited } from './blocked-refusals.ts';
import { GatewayUnavailable, type CardGateway, type PaymentMethodSeen } from './gateway.ts';
import type { Db } from './store.ts';

/** Invoicing's published view (its migration 034): `payment_method_id`, `fingerprint`. */
export const BLOCKED_CARDS_VIEW = 'invoicing.blocked_cards';

/**
 * What the customer is told: plainly that this card cannot be used here, never why (a fraud report,
 * another account's): the words invoicing's pages use for a card blocked elsewhere.
 */
export const CARD_BLOCKED_MESSAGE = 'This card cannot be used for payments here. Nothing was saved: please use a different card.';

/** Per pool (one per database): whether the view was seen (then never asked again: migrations do not go back), and whether its absence was said. */
const seen = new WeakMap<pg.Pool, { present: boolean; saidMissing: boolean }>();

/**
 * Whether invoicing's view is in this database. Found once, it is not looked up again; missing, it is
 * looked up at every finish (to_regclass: a catalog lookup, cheap beside the gateway calls a finish
 * makes) so an invoicing migrated later is picked up without a restart, and its absence is logged
 * once (`card.blocked_check_unavailable`, warn).
 */
async function viewPresent(pool: pg.Pool, log: Logger, db: Db = pool): Promise<boolean> {
  const state = seen.get(pool) ?? { present: false, saidMissing: false };
  seen.set(pool, state);
  if (state.present) return true;
  // Asked in `db`: a finish waiting on the account's lock holds a connection, so the holder takes no other.
  const { rows } = await db.query<{ present: boolean }>('select to_regclass($1) is not null as present', [BLOCKED_CARDS_VIEW]);
  if (rows[0]?.present) {
    state.present = true;
    if (state.saidMissing) log.info('card.blocked_check_ready', { view: BLOCKED_CARDS_VIEW });
    return true;
  }
  if (!state.saidMissing) {
    state.saidMissing = true;
    log.warn('card.blocked_check_unavailable', {
      view: BLOCKED_CARDS_VIEW,
      reason: `${BLOCKED_CARDS_VIEW} is not in this database (invoicing's migration 034): cards are saved unchecked until it is; invoicing's charger still refuses a blocked card`,
    });
  }
  return false;
}

export type BlockedBy = 'payment_method' | 'fingerprint';

/**
 * How the card is blocked: by its payment method, by its fingerprint, or not (`undefined`, also when
 * the view is not there yet). A card without a fingerprint matches by payment method alone. `db`: the
 * transaction to ask in (the check again after the save, service.ts), else the pool.
 */
export async function blockedBy(pool: pg.Pool, log: Logger, pm: PaymentMethodSeen, db: Db = pool): Promise<BlockedBy | undefined> {
  if (!(await viewPresent(pool, log, db))) return undefined;
  const { rows } = await db.query<{ by_payment_method: boolean }>(
    `select bool_or(payment_method_id = $1) as by_payment_method from ${BLOCKED_CARDS_VIEW} where payment_method_id = $1 or fingerprint = $2`,
    [pm.id, pm.fingerprint ?? null],
  );
  const by = rows[0]?.by_payment_method;
  return by === true ? 'payment_method' : by === false ? 'fingerprint' : undefined;
}

/** The JSON error code of the 422: its own, so a client can tell it from the other refusals (`setup_refused`). */
export const CARD_BLOCKED_CODE = 'card_blocked';

export interface BlockedRefusal {
  kind: 'refused';
  status: 422;
  code: typeof CARD_BLOCKED_CODE;
  message: string;
}

type RefusalDeps = { pool: pg.Pool; gateway: CardGateway; log: Logger };
type RefusalIds = { accountId: string; customerId: string; setupIntentId: string };

type Answer = BlockedRefusal | BlockedRefusalsLimited;

/**
 * The blocked-card probe limit and the check of a setup intent's card, one step per account
 * (blocked-refusals.ts, underBlockedRefusals), once the gateway has said the card: under the account's
 * lock the limit is decided again first, and once reached the card is a 429 whatever it is (not
 * checked, not detached: blocked or not, nothing is learned), as a setup posted after it; else the card
 * is checked, and a blocked one counted in the same transaction (committed before anything else:
 * crash-only, a kill after it still counts it). Concurrent finishes, all past the first check before
 * any refusal was counted, are so decided one at a time: after the limit's refusals every later one,
 * clean or blocked, is the same 429. A blocked card is then refused (refuseBlocked). Undefined: the
 * card is not blocked and the limit not reached (the finish goes on to the card lock).
 */
export async function judgeCard(deps: RefusalDeps, ids: RefusalIds, pm: PaymentMethodSeen): Promise<Answer | undefined> {
  type Judged = { limited: true; retryAfterSeconds: number } | { limited: false; by: BlockedBy | undefined };
  const judged = await underBlockedRefusals(deps.pool, ids.accountId, async (step): Promise<Judged> => {
    if (!step.limit.allowed) return { limited: true, retryAfterSeconds: step.limit.retryAfterSeconds };
    const by = await blockedBy(deps.pool, deps.log, pm, step.client);
    if (by) await step.count(pm, ids.setupIntentId);
    return { limited: false, by };
  });
  if (judged.limited)
    return blockedRefusalsLimited(deps.log, ids.accountId, judged.retryAfterSeconds, { setup_intent_id: ids.setupIntentId });
  return judged.by && refuseBlocked(deps, ids, pm, judged.by, 'counted');
}

/**
 * The check again after the save found the card blocked (service.ts; the save rolled back): the limit
 * decided and the refusal counted in one step, as judgeCard's, so a finish that finds the limit
 * reached meanwhile by the account's others is the same 429 as theirs (counting nothing); else 422.
 */
export async function refuseBlockedAfterSave(
  deps: RefusalDeps,
  ids: RefusalIds,
  pm: PaymentMethodSeen,
  by: BlockedBy,
  after: { found: 'after_save'; default_restored: string },
): Promise<Answer> {
  const counted = await underBlockedRefusals(deps.pool, ids.accountId, async (step) => {
    if (step.limit.allowed) await step.count(pm, ids.setupIntentId);
    return step.limit;
  });
  return refuseBlocked(deps, ids, pm, by, counted.allowed ? 'counted' : counted.retryAfterSeconds, after);
}

/**
 * The refusal of a card found blocked, its count already committed (`counted`), or the limit's
 * `retryAfterSeconds` when the check again after the save found the limit reached: nothing is saved
 * and the gateway's default is not touched (the card on file, if any, stays), and the card is
 * detached from the account's customer at the gateway while still attached to it (a re-post of the
 * same setup intent finds it detached), so it is not left on the customer. A detach the gateway
 * refuses changes nothing of the answer: the card is not on file, which is what invoicing charges.
 * Logged `card.blocked_refused` (warn) with ids and `by` (`after`: `found=after_save
 * default_restored=…`), never the fingerprint: it names a card number across accounts and merchants' logs.
 */
async function refuseBlocked(
  deps: RefusalDeps,
  ids: RefusalIds,
  pm: PaymentMethodSeen,
  by: BlockedBy,
  counted: 'counted' | number,
  after: { found: 'after_save'; default_restored: string } | Record<string, never> = {},
): Promise<Answer> {
  let detached: Record<string, string> = { detached: 'no' };
  if (pm.customerId === ids.customerId) {
    try {
      await deps.gateway.detach(pm.id);
      detached = { detached: 'yes' };
    } catch (err) {
      if (!(err instanceof GatewayUnavailable)) throw err;
      detached = {
        detached: 'failed',
        error_class: err.errorClass,
        code: err.code ?? 'none',
        request_id: err.requestId ?? 'none',
        ...err.unreachable,
      };
    }
  }
  deps.log.warn('card.blocked_refused', {
    account_id: ids.accountId,
    setup_intent_id: ids.setupIntentId,
    payment_method_id: pm.id,
    by,
    ...after,
    ...detached,
    'count#card.blocked_refused': 1,
  });
  if (counted !== 'counted') return blockedRefusalsLimited(deps.log, ids.accountId, counted, { setup_intent_id: ids.setupIntentId });
  return { kind: 'refused', status: 422, code: CARD_BLOCKED_CODE, message: CARD_BLOCKED_MESSAGE };
}

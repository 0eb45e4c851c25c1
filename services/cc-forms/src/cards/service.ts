// Putting a card on file, the server's two steps around the browser's
// confirmation: start (count the attempt, make sure of the gateway customer,
// open a setup intent and record it for the account) and finish (only a setup
// intent recorded for the account: check it with the secret key, make its card
// the default, store what the gateway says of it). A card reported stolen is refused
// (blocked.ts), checked before the card lock and again after the save; past the
// account's blocked refusals limit neither step asks the gateway (blocked-refusals.ts), and a finish
// already past the gateway's reads decides the limit again with its card's check (judgeCard).
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import type { CardOnFile } from '../domain/card.ts';
import { rateLimitMessage } from '../domain/rate-limit.ts';
import { GatewayUnavailable, type CardGateway } from './gateway.ts';
import { blockedBy, judgeCard, refuseBlockedAfterSave, type BlockedBy, type BlockedRefusal } from './blocked.ts';
import { blockedRefusalsAllow, blockedRefusalsLimited, type BlockedRefusalsLimited } from './blocked-refusals.ts';
import { takeCardAttempt } from './attempts.ts';
import { createAccountCustomer } from './customer-creation.ts';
import { gatewayLookupRefused, type LookupRefused } from './lookups.ts';
import {
  cardFromSetupIntent,
  cardOnFile,
  customerOf,
  rememberCustomer,
  rememberSetupIntent,
  saveCard,
  setupIntentStanding,
  withCardLock,
} from './store.ts';

export interface CardDeps {
  pool: pg.Pool;
  gateway: CardGateway;
  /** CARD_ATTEMPTS_PER_HOUR */
  attemptsPerHour: number;
  /** Unset: GATEWAY_LOOKUPS_PER_MINUTE (lookups.ts). */
  lookupsPerMinute?: number;
  log: Logger;
}

export type StartResult =
  | { kind: 'started'; setupIntentId: string; clientSecret: string }
  | { kind: 'rate_limited'; retryAfterSeconds: number; message: string };

export type FinishResult =
  | { kind: 'saved'; card: CardOnFile }
  /** reason: the log's (`card.setup_refused reason=…`), for callers that are not the browser (cli/test-card.ts). */
  | { kind: 'refused'; status: 400 | 409; message: string; reason: string }
  | BlockedRefusal
  | BlockedRefusalsLimited
  | LookupRefused;

/** Thrown inside the card lock's transaction to roll the save back: the card was blocked since the first check. */
class BlockedSinceCheck extends Error {
  constructor(
    readonly by: BlockedBy,
    readonly defaultRestored: 'yes' | 'no' | 'failed',
  ) {
    super('the card was blocked between the check and the save');
  }
}

/** The account's gateway customer, created once (under the account's stored random key: customer-creation.ts). */
async function ensureCustomer(deps: CardDeps, accountId: string): Promise<string> {
  const known = await customerOf(deps.pool, accountId);
  if (known) return known;
  const created = await createAccountCustomer(deps, accountId);
  const customerId = await rememberCustomer(deps.pool, accountId, created);
  deps.log.info('card.customer_created', { account_id: accountId, customer_id: customerId });
  return customerId;
}

export async function startCardSetup(deps: CardDeps, accountId: string): Promise<StartResult> {
  // Past the blocked-card probe limit no card could be checked: none is asked for (no attempt, no setup intent).
  const probing = await blockedRefusalsAllow(deps.pool, accountId);
  if (!probing.allowed) return blockedRefusalsLimited(deps.log, accountId, probing.retryAfterSeconds, { step: 'start' });
  const decision = await takeCardAttempt(deps.pool, accountId, deps.attemptsPerHour);
  if (!decision.allowed) {
    deps.log.warn('card.rate_limited', { account_id: accountId, retry_after_s: decision.retryAfterSeconds, 'count#card.rate_limited': 1 });
    return {
      kind: 'rate_limited',
      retryAfterSeconds: decision.retryAfterSeconds,
      message: rateLimitMessage(deps.attemptsPerHour, decision.retryAfterSeconds),
    };
  }
  const customerId = await ensureCustomer(deps, accountId);
  const si = await deps.gateway.createSetupIntent(customerId, accountId);
  // Before the client secret leaves: finishing it is checked against this row.
  await rememberSetupIntent(deps.pool, accountId, si.id);
  deps.log.info('card.setup_started', { account_id: accountId, customer_id: customerId, setup_intent_id: si.id });
  return { kind: 'started', setupIntentId: si.id, clientSecret: si.clientSecret };
}

const NOT_YOURS = 'This card setup does not belong to your account. Nothing was saved: please try again.';
const REPLACED =
  'Your card on file was replaced after this card was entered, so this card was not saved. Reload the page to see the card on file.';
// The same setup intent may be the one being saved (a second submit): say what is known.
const BUSY =
  'Another card is being saved for your account right now. Reload the page in a moment to see the card on file, and save this card again if it is not the one.';

export async function finishCardSetup(deps: CardDeps, accountId: string, setupIntentId: string): Promise<FinishResult> {
  const refuse = (status: 400 | 409, reason: string, message: string): FinishResult => {
    deps.log.warn('card.setup_refused', { account_id: accountId, setup_intent_id: setupIntentId, reason });
    return { kind: 'refused', status, message, reason };
  };
  // Posted again once finished (a retried request, a second tab): the card it
  // became, from our own records.
  const already = (card: CardOnFile): FinishResult => {
    deps.log.info('card.setup_already_added', { account_id: accountId, setup_intent_id: setupIntentId });
    return { kind: 'saved', card };
  };
  const finished = await cardFromSetupIntent(deps.pool, accountId, setupIntentId);
  if (finished) return already(finished);
  // Only a setup intent opened here for this account is worth a gateway call:
  // an unknown or another account's id is refused from our records alone; one
  // opened before the card on file's would put back the card it replaced.
  const standing = await setupIntentStanding(deps.pool, accountId, setupIntentId);
  if (standing === 'not_started_here') return refuse(400, 'not_started_here', NOT_YOURS);
  if (standing === 'superseded') return refuse(409, 'superseded', REPLACED);
  const customerId = await customerOf(deps.pool, accountId);
  if (!customerId) return refuse(400, 'no_customer', NOT_YOURS);
  // Past the blocked-card probe limit the card is not even asked about at the gateway (blocked-refusals.ts).
  const probing = await blockedRefusalsAllow(deps.pool, accountId);
  if (!probing.allowed) return blockedRefusalsLimited(deps.log, accountId, probing.retryAfterSeconds, { setup_intent_id: setupIntentId });
  // Its own ids posted over and over would still call the gateway each time.
  const limited = await gatewayLookupRefused(deps, accountId, { setup_intent_id: setupIntentId });
  if (limited) return limited;
  // The gateway's word still decides: status, customer, payment method.
  const si = await deps.gateway.setupIntent(setupIntentId);
  // Another customer's setup intent is as absent as an unknown one.
  if (!si || si.customerId !== customerId) return refuse(400, si ? 'other_customer' : 'unknown_setup_intent', NOT_YOURS);
  if (si.status !== 'succeeded' || !si.paymentMethodId) {
    return refuse(409, `status_${si.status}`, 'The gateway has not confirmed this card. Nothing was saved: please try again.');
  }
  const pm = await deps.gateway.paymentMethod(si.paymentMethodId);
  // A card reported stolen (invoicing.blocked_cards) is never put on file, even once detached (posted again).
  // The limit is decided again here, with the check and the count, one step per account: the finishes
  // posted at once all passed the check above before any refusal was counted.
  const judged = pm && (await judgeCard(deps, { accountId, customerId, setupIntentId: si.id }, pm));
  if (judged) return judged;
  if (!pm || pm.customerId !== customerId) return refuse(400, 'payment_method_not_attached', NOT_YOURS);
  // One finish at a time per account, checked again under the lock (another tab may have saved
  // meanwhile): an older setup intent never replaces a newer one, at the gateway or in cards.
  // Another finish holding the lock is answered at once (busy), not waited for.
  // A block committed after the check above (invoicing's dispute, any moment) is caught by the check
  // again after the save, the last statement of the transaction that makes the card the card on file:
  // it sees every block committed before it, and the save is rolled back. One committed after it is a
  // block of a card already on file (invoicing's charger refuses it).
  let added = false;
  const ids = { accountId, customerId, setupIntentId: si.id };
  let outcome: FinishResult | 'busy';
  try {
    outcome = await withCardLock(deps.pool, accountId, async (db): Promise<FinishResult> => {
      const savedMeanwhile = await cardFromSetupIntent(db, accountId, si.id);
      if (savedMeanwhile) return already(savedMeanwhile);
      if ((await setupIntentStanding(db, accountId, si.id)) === 'superseded') return refuse(409, 'superseded', REPLACED);
      const previous = await cardOnFile(db, accountId);
      await deps.gateway.makeDefault(customerId, pm.id);
      const card = await saveCard(db, accountId, {
        customerId,
        paymentMethodId: pm.id,
        setupIntentId: si.id,
        brand: pm.brand,
        last4: pm.last4,
        expMonth: pm.expMonth,
        expYear: pm.expYear,
        fingerprint: pm.fingerprint,
      });
      const by = await blockedBy(deps.pool, deps.log, pm, db);
      if (by) throw new BlockedSinceCheck(by, await restoreDefault(deps, customerId, previous?.paymentMethodId, pm.id));
      added = true;
      return { kind: 'saved', card };
    });
  } catch (err) {
    if (!(err instanceof BlockedSinceCheck)) throw err;
    return refuseBlockedAfterSave(deps, ids, pm, err.by, { found: 'after_save', default_restored: err.defaultRestored });
  }
  if (outcome === 'busy') return refuse(409, 'busy', BUSY);
  if (added) {
    deps.log.info('card.added', { account_id: accountId, customer_id: customerId, payment_method_id: pm.id, setup_intent_id: si.id });
  }
  return outcome;
}

/**
 * Puts the gateway's default back on the card on file after a blocked card was made it (found blocked
 * after the save, rolled back), still under the card lock so no newer finish's default is overwritten.
 * With no card on file there is nothing to put back (the blocked card is detached next). One try as
 * makeDefault; a failure leaves the gateway's default on the detached card, while `cards_on_file`,
 * which invoicing's charger uses, still names the card on file.
 */
async function restoreDefault(
  deps: CardDeps,
  customerId: string,
  previous: string | undefined,
  blocked: string,
): Promise<'yes' | 'no' | 'failed'> {
  if (!previous || previous === blocked) return 'no';
  try {
    await deps.gateway.makeDefault(customerId, previous);
    return 'yes';
  } catch (err) {
    if (!(err instanceof GatewayUnavailable)) throw err;
    return 'failed';
  }
}

// One charging pass: every invoice that is due a charge gets its decision
// carried out, the answer recorded before the next attempt can be chosen.
import type pg from 'pg';
import { withSessionLock } from '@vault/db';
import { unreachableFields } from '@vault/gateway';
import type { Logger } from '@vault/runtime';
import {
  afterAnswer,
  authenticationWindow,
  beforeAttempt,
  decide,
  pastDueWithoutCard,
  type Answer,
  type ChargeRow,
  type Decision,
} from './decide.ts';
import {
  asksForCardholder,
  AUTHENTICATION_REQUIRED,
  isServerErrorCode,
  PAYMENT_INTENT_NEEDS_RETURN_URL,
  PAYMENT_INTENT_PROCESSING,
  UNUSABLE_PAYMENT_INTENT,
  type ChargeGateway,
} from './gateway-calls.ts';
import { requireCcForms } from './cc-forms-schema.ts';
import { createdAfterServerError } from './create-after-500.ts';
import { logAttempt } from './attempt-log.ts';
import { revokeUnsettled } from './card-testing.ts';
import { type SavedAnswer, saveAnswer } from './save-answer.ts';
import { fillBlockFingerprints } from './block-fingerprints.ts';
import { dropBlockedAttempt, saveUnlessBlocked } from './blocked-attempt.ts';
import { paidByCardholder } from './paid-by-cardholder.ts';
import { recordRefundsSince, releaseRefundedStray, saveSucceeded } from './save-payment.ts';
import { warnStillHeld } from './stray-still-held.ts';
import { lookedForPayment, pastDueWhileWaiting, savePastDueWithoutCard, type Candidate } from './store.ts';
import { candidatePages } from './candidate-pages.ts';
import { failedFields, passFields, type PassProgress } from './pass-summary.ts';

// One pass at a time across processes (the app's loop, `vault charge`): two
// passes would send the same attempt at once and one would get 409 for it.
export const CHARGE_LOCK = 0x76_61_63_68; // "vach"

export interface ChargerDeps {
  pool: pg.Pool;
  gateway: ChargeGateway;
  /** PAYMENT_RETRY_SCHEDULE: seconds before each retry of a declined charge. */
  retrySchedule: readonly number[];
  log: Logger;
  now?: () => Date;
  /** Invoices charged at once within a pass. */
  concurrency?: number;
  /** How long a pass waits for another's to end (withSessionLock's waitMs; default its own). */
  lockWaitMs?: number;
  /** Candidates read (and charged) at a time; CANDIDATE_PAGE (1,000) unless given (tests). */
  candidatePage?: number;
  /** GATEWAY_URL's origin: named, with the network's cause, when the gateway cannot be reached. */
  gatewayOrigin?: string | undefined;
}

export interface PassReport {
  /** Attempts the gateway answered (paid, declined or refused). */
  charged: number;
  paid: number;
  declined: number;
  /** Invoices this pass made past_due: after the last decline, or for want of a card. */
  pastDue: number;
  noCard: number;
  /** Invoices left for a later pass: no answer from the gateway, or a failure here. */
  errors: number;
}

/**
 * One pass over the invoices due a charge; waits for a pass running elsewhere to end first.
 * Without cc-forms' view of the cards on file, a CcFormsNotReadyError before anything is read.
 */
export async function chargePass(deps: ChargerDeps): Promise<PassReport> {
  await requireCcForms(deps.pool);
  const onWait = (holder: string) => deps.log.info('charge.waiting', { holder, for: 'another charging pass to end' });
  return withSessionLock(deps.pool, CHARGE_LOCK, () => pass(deps), { onWait, waitMs: deps.lockWaitMs });
}

async function pass(deps: ChargerDeps): Promise<PassReport> {
  const now = deps.now ?? (() => new Date());
  const started = performance.now();
  const report: PassReport = { charged: 0, paid: 0, declined: 0, pastDue: 0, noCard: 0, errors: 0 };
  // Fraud blocks made without a fingerprint get it once cc-forms has it, before any card is judged.
  await fillBlockFingerprints({ pool: deps.pool, log: deps.log, now, gateway: deps.gateway }).catch((err: unknown) =>
    deps.log.error('charge.block_fingerprints_failed', err),
  );
  const progress: PassProgress = { read: 0, pages: 0 };
  try {
    // PaymentIntents past the card testing limit whose cancel failed in the webhook: canceled before any is read.
    await revokeUnsettled(deps);
    // A page at a time (keyset, in the candidates' order), each charged before the next is read: memory
    // and each statement hold a page, not every invoice due at once (the first pass of a month's 50,000).
    for await (const page of candidatePages(deps.pool, now(), authenticationWindow(deps.retrySchedule), deps.candidatePage)) {
      progress.read += page.length;
      progress.pages++;
      await chargePage(deps, page, now, report);
    }
  } catch (err) {
    // A page read failing (a statement limit, a dropped connection) ends the pass: what it did before is
    // still said, with why it stopped, then the error goes on to the loop's log and `vault charge`'s exit 1.
    deps.log.error('charging.pass', err, failedFields(progress, report, started, err));
    throw err;
  }
  deps.log.info('charging.pass', passFields(progress, report, started));
  return report;
}

/** One page's candidates charged, `concurrency` at a time; an invoice's failure is its own (logged, counted). */
async function chargePage(deps: ChargerDeps, page: Candidate[], now: () => Date, report: PassReport): Promise<void> {
  const queue = [...page];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      try {
        await chargeOne(deps, next, now, report);
      } catch (err) {
        // This invoice's state is whatever was recorded; the next pass goes on from it.
        report.errors++;
        const unreachable = unreachableFields(err, deps.gatewayOrigin);
        deps.log.error('charge.failed', err, { invoice_id: next.invoice.id, 'count#charges.failed': 1, ...unreachable });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, deps.concurrency ?? 4) }, worker));
}

async function chargeOne(deps: ChargerDeps, candidate: Candidate, now: () => Date, report: PassReport): Promise<void> {
  const { invoice, charge, card, key, askedAt } = candidate;
  const decision = decide(invoice, charge, card, now(), authenticationWindow(deps.retrySchedule), askedAt ?? null);
  if (decision.do === 'nothing') return;
  if (decision.do === 'check_stray_refund') {
    // Never confirmed again; refunded or charged back (lost) in full at the gateway, it is let go and the invoice charged now.
    const released = await releaseRefundedStray(deps, invoice.id, charge!);
    if (released === 'unanswered') report.errors++;
    if (typeof released === 'string') return;
    if ('held' in released) {
      // Still held: told once a day until given back; a pass that told it is left after an error, as the hold's was,
      // but not while a chargeback is open: nothing to run then, only its own count (count#charges.stray_still_held).
      if ((await warnStillHeld(deps, invoice, released.held, released.back, now())) === 'warned') report.errors++;
      return;
    }
    return chargeOne(deps, { ...candidate, charge: released.row, key: released.key }, now, report);
  }
  if (decision.do === 'drop_blocked_attempt') {
    // Its card reported stolen while the attempt was in flight: canceled, not confirmed (blocked-attempt.ts).
    const dropped = await dropBlockedAttempt(deps, invoice.id, charge!, paidByCardholder);
    if (dropped === 'paid') report.paid++;
    if (dropped === 'left') report.errors++;
    if (typeof dropped === 'string') return;
    return chargeOne(deps, { ...candidate, charge: dropped.row, key: dropped.key }, now, report);
  }
  if (decision.do === 'past_due_no_card') {
    // The card was read at the pass's start: one added since is charged by the next pass, never told missing.
    const saved = await savePastDueWithoutCard(deps, invoice.id, pastDueWithoutCard(charge, decision.blocked), now());
    if (saved === 'card_now') deps.log.info('charge.card_added', { invoice_id: invoice.id, account_id: invoice.accountId });
    // Paid meanwhile (its webhook): nothing to write or tell, as any write finding it paid.
    if (saved !== 'written') return;
    report.pastDue++;
    report.noCard++;
    if (decision.blocked) {
      // Its only card was reported stolen (a fraudulent chargeback): not charged again (blocked-cards.ts).
      deps.log.warn('charge.card_blocked_not_charged', {
        invoice_id: invoice.id,
        account_id: invoice.accountId,
        payment_method: card?.paymentMethodId ?? 'none',
        'count#invoices.card_blocked': 1,
      });
      return;
    }
    deps.log.info('charge.no_card', { invoice_id: invoice.id, account_id: invoice.accountId, 'count#invoices.no_card': 1 });
    return;
  }
  if (decision.do === 'past_due_unauthenticated') {
    // The cardholder may have confirmed it on our page, its webhook late or lost: ask the gateway first.
    const settled = await paidByCardholder(deps, invoice.id, charge!.paymentIntentId);
    if (settled === 'paid') {
      report.paid++;
      return;
    }
    if (settled === 'unanswered' || settled === 'stray') {
      // A stray (paid for another amount or currency) is held now, as the charger's own confirm holds one.
      report.errors++;
      return;
    }
    // The PaymentIntent keeps waiting for the cardholder; only the invoice is overdue now. The row is
    // not written back from this pass's read: a decline recorded meanwhile (payment-failed.ts) stays.
    if (!(await pastDueWhileWaiting(deps, invoice.id, now()))) return;
    report.pastDue++;
    deps.log.info('charge.unauthenticated', { invoice_id: invoice.id, account_id: invoice.accountId, 'count#invoices.unauthenticated': 1 });
    return;
  }
  if (decision.do === 'look_for_payment') {
    // Past due already, so no window end would ever ask the gateway: a payment whose webhook was
    // lost is found here (paid as the webhook would: notice, reinstatement), else looked for again
    // pastDueLookEvery (an hour) later: a suspended account that paid waits an hour at most, not a window.
    const settled = await paidByCardholder(deps, invoice.id, charge!.paymentIntentId);
    if (settled === 'paid') report.paid++;
    else if (settled === 'unanswered' || settled === 'stray') report.errors++;
    else await lookedForPayment(deps, invoice.id, charge!.paymentIntentId, now());
    return;
  }
  // The attempt left its PaymentIntent processing, or its confirm got a 5xx: the same key would get
  // that stored answer for a day. The PaymentIntent says how it ended instead: paid, still processing,
  // or failed (a decline). Otherwise the attempt goes again under a new key (below).
  const serverError = decision.replay && charge?.paymentIntentId != null && isServerErrorCode(charge.lastErrorCode);
  const storedAnswer =
    serverError || (decision.replay && charge?.paymentIntentId != null && charge.lastErrorCode === PAYMENT_INTENT_PROCESSING);
  if (storedAnswer) {
    // After a 5xx the PaymentIntent's last error may be an earlier attempt's decline (the gateway keeps it
    // until the next confirm): only a processing attempt's failure is read as its decline.
    const readDecline = !serverError;
    if (await settleFromIntent(deps, now, invoice.id, decision, beforeAttempt(charge, decision, now()), report, readDecline)) return;
  }
  let row: ChargeRow = beforeAttempt(charge, decision, now());
  let idempotencyKey = key;
  // Every save before a send reads the card again: one reported stolen mid-pass is not sent (blocked-attempt.ts).
  const save = (r: ChargeRow, how: 'write' | 'renew' | 'check') => saveUnlessBlocked(deps, invoice, r, how, now(), report);
  if (!row.paymentIntentId) {
    if (!decision.customerId) throw new Error(`no gateway customer to charge invoice ${invoice.id}`);
    // The row, and with it the invoice's random idempotency key, is written
    // before the PaymentIntent is asked for: a crash in between replays the
    // same create under the same key, and no other database's invoice of the
    // same id can ever reuse it (as it could the invoice id).
    idempotencyKey = await save(row, 'write');
    if (idempotencyKey === undefined) return; // paid meanwhile (a webhook), or its card blocked
    const sent = await deps.gateway.createPaymentIntent({
      invoiceId: invoice.id,
      accountId: invoice.accountId,
      number: invoice.number,
      amount: decision.amount,
      currency: invoice.currency,
      customerId: decision.customerId,
      idempotencyKey,
    });
    // A 500: the PaymentIntent it made, else a new key for the next pass (create-after-500.ts).
    const created = await createdAfterServerError(deps, invoice.id, idempotencyKey, sent, () => save(row, 'renew'));
    if ('error' in created) {
      logAttempt(deps.log, invoice.id, decision, created.error, 'create');
      if (created.error.kind === 'unanswered') {
        // The same key goes again; after a 500 (replayed for a day) only once the gateway said it made no
        // PaymentIntent under it (create-after-500.ts): an invoice has one.
        report.errors++;
        return;
      }
      // Refused (the gateway customer gone, an amount it will not take): no PaymentIntent was
      // made, so the attempt is spent as a refused confirm's is, on the schedule to past_due,
      // and the key is renewed: the next create (another card) is not answered the old refusal.
      await recordAnswer(deps, now, invoice.id, decision, row, created.error, report, true);
      return;
    }
    row = { ...row, paymentIntentId: created.id };
    // Saved before the confirm, a replay's too: a PaymentIntent made now is never confirmed
    // unrecorded (its payment's webhook would find no PaymentIntent of the invoice's).
    idempotencyKey = await save(row, 'write');
  } else if (!decision.replay) {
    // The attempt's card is recorded before it is sent, so a replay sends the same request.
    idempotencyKey = await save(row, 'write');
  } else if (!storedAnswer) {
    // A replay's row is saved already: only its card is read again.
    idempotencyKey = await save(row, 'check');
  } else {
    // Its PaymentIntent, just read, is neither paid nor still processing nor (after processing) failed
    // by this card: a PaymentIntent is paid at most once, so a new key cannot charge twice. The stored
    // answer's code goes with the old key: a lost answer under the new one is sent again under it.
    row = { ...row, lastErrorCode: null, lastDeclineCode: null, lastErrorMessage: null };
    idempotencyKey = await save(row, 'renew');
  }
  if (idempotencyKey === undefined) return; // paid meanwhile (a webhook), or its card blocked
  const answer = await deps.gateway.confirm({
    invoiceId: invoice.id,
    attempt: decision.attempt,
    paymentIntentId: row.paymentIntentId!,
    paymentMethodId: decision.paymentMethodId,
    idempotencyKey,
  });
  // A PaymentIntent no confirm can pay (canceled; made allowing redirects): the attempt is spent as a
  // refusal's, and the next one (on the schedule, or with another card) makes a new one under a new key.
  const unusable = answer.kind === 'refused' && UNUSABLE_PAYMENT_INTENT.has(answer.code);
  // One allowing redirects could still be paid on a page (the old one's link): it is canceled before
  // it is let go, or the invoice could be paid twice. Not canceled yet: the same attempt goes again.
  if (unusable && answer.code === PAYMENT_INTENT_NEEDS_RETURN_URL) {
    const canceled = await deps.gateway.cancelPaymentIntent(row.paymentIntentId!);
    if (canceled === 'succeeded') {
      // Paid on a page meanwhile: the very race the cancel guards against.
      const settled = await paidByCardholder(deps, invoice.id, row.paymentIntentId);
      if (settled === 'paid') report.paid++;
      else report.errors++;
      return;
    }
    if (canceled !== 'canceled') {
      deps.log.warn('charge.cancel_failed', { invoice_id: invoice.id, payment_intent: row.paymentIntentId!, code: canceled.error });
      report.errors++;
      return;
    }
  }
  const recorded = await recordAnswer(
    deps,
    now,
    invoice.id,
    decision,
    unusable ? { ...row, paymentIntentId: null } : row,
    answer,
    report,
    unusable,
  );
  logAttempt(deps.log, invoice.id, decision, answer, 'confirm', recorded === 'stray');
  if (unusable) deps.log.warn('charge.payment_intent_replaced', { invoice_id: invoice.id, payment_intent: row.paymentIntentId! });
}

/**
 * A processing (or 5xx) attempt's end, from its PaymentIntent: paid (as its webhook would), still
 * processing (wait), or, with `readDecline`, declined when its last error is this attempt's card's
 * (a soft decline asks for the cardholder, as that answer to a confirm does). True when settled here; false for anything else (canceled, asking for the cardholder, another
 * card's error, a refused look): the attempt is then sent again, its key answering as the gateway decides.
 */
async function settleFromIntent(
  deps: ChargerDeps,
  now: () => Date,
  invoiceId: string,
  decision: Extract<Decision, { do: 'attempt' }>,
  row: ChargeRow,
  report: PassReport,
  readDecline: boolean,
): Promise<boolean> {
  const intent = await deps.gateway.retrievePaymentIntent(row.paymentIntentId!);
  if ('error' in intent) {
    if (intent.error.kind !== 'unanswered') return false;
    report.errors++;
    return true;
  }
  if (intent.status === 'succeeded') {
    const settled = await paidByCardholder(deps, invoiceId, intent.id);
    if (settled === 'paid') report.paid++;
    if (settled === 'unanswered' || settled === 'stray') report.errors++;
    return settled !== 'waiting';
  }
  if (intent.status === 'processing') {
    report.errors++;
    return true;
  }
  const failed = readDecline && intent.status === 'requires_payment_method' ? intent.lastError : undefined;
  if (!failed || failed.paymentMethodId !== decision.paymentMethodId) return false;
  // A soft decline asks for the cardholder, as the same answer to a confirm does (answerOfError).
  const answer: Answer = asksForCardholder(failed)
    ? { kind: 'action_required', code: AUTHENTICATION_REQUIRED, message: failed.message }
    : { kind: 'declined', code: failed.code, declineCode: failed.declineCode, message: failed.message };
  await recordAnswer(deps, now, invoiceId, decision, row, answer, report);
  logAttempt(deps.log, invoiceId, decision, answer, 'confirm');
  return true;
}

/** An attempt's answer on its row (and its invoice), counted in the pass's report; `stray`: a success that does not pay it. */
async function recordAnswer(
  deps: ChargerDeps,
  now: () => Date,
  invoiceId: string,
  decision: Extract<Decision, { do: 'attempt' }>,
  row: ChargeRow,
  answer: Answer,
  report: PassReport,
  renewKey = false,
): Promise<'stray' | undefined> {
  const at = now();
  const after = afterAnswer(row, decision.paymentMethodId, answer, at, deps.retrySchedule);
  const change = { invoiceStatus: after.invoiceStatus, at, answered: { attempt: decision.attempt, answer } };
  let saved: SavedAnswer | undefined;
  if (answer.kind !== 'succeeded') {
    // Asked again after the round's window ended (card testing burnt the PaymentIntent it was asked on):
    // past due now (round-ask.ts), as the row says under the invoice's lock (save-answer.ts).
    const asks =
      answer.kind === 'action_required' ? { newRound: decision.newRound, window: authenticationWindow(deps.retrySchedule) } : undefined;
    saved = await saveAnswer(deps, invoiceId, after.charge, change, { renewKey, asks });
  } else if ((await saveSucceeded(deps, invoiceId, after.charge, row, change, answer.payment)).saved === 'stray') {
    // Not the invoice's own payment (its amount or currency changed at the gateway): not paid, left for an operator.
    report.errors++;
    return 'stray';
  } else if (answer.earlier) {
    // Paid before this confirm (on a page, days ago maybe): a refund since may have given up waiting for it.
    await recordRefundsSince(deps, invoiceId, answer.payment.id);
  }
  if (answer.kind === 'unanswered') {
    report.errors++;
    return;
  }
  report.charged++;
  // An answer asking for the cardholder is neither paid nor declined (charge.attempt outcome=action_required counts it).
  if (answer.kind === 'succeeded') report.paid++;
  else if (answer.kind !== 'action_required') report.declined++;
  // Only an invoice this answer moved: one past due already is neither counted nor logged again.
  if (!saved?.pastDue) return undefined;
  report.pastDue++;
  if (saved.late) {
    deps.log.info('charge.unauthenticated', { invoice_id: invoiceId, asked_again: true, 'count#invoices.unauthenticated': 1 });
  }
  return undefined;
}

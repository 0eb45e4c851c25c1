import { LOOP_LOCK_WAIT_MS, LockBusy } from '@vault/db';
import { unreachableFields } from '@vault/gateway';
import { startLoop, type Loop } from '@vault/runtime';
import { reviewStandings } from '../accounts/standing.ts';
import { ccFormsWait } from './cc-forms-schema.ts';
import { chargePass, type ChargerDeps } from './charger.ts';
import { lookBeforeSuspending } from './paid-by-cardholder.ts';

export interface ChargeLoopDeps extends ChargerDeps {
  everyMs: number;
  /** SUSPEND_PAST_DUE_AFTER in seconds: after each pass, accounts are suspended or reinstated. Unset: no review. */
  suspendAfterSeconds?: number;
  /** The gateway's smallest charge in the price book's currency: the review never suspends over a smaller invoice finalize carries. */
  minimum: string;
}

/**
 * The charging loop inside the app: a pass and the review of accounts' standing; the next pass starts `everyMs` after one
 * ends, so passes never pile up behind a slow gateway. The webhook endpoint is catch-up-loop.ts's.
 */
export function startChargeLoop(deps: ChargeLoopDeps): Loop {
  // cc-forms may still be migrating beside us (compose, a fresh deploy): passes wait for its view, saying so.
  const ccForms = ccFormsWait(deps.pool, deps.log);
  // Another pass running (another replica, vault charge): said at info, tried again next tick.
  const busy = new LockBusy(deps.log, 'charging.pass_skipped');
  const lockWaitMs = deps.lockWaitMs ?? LOOP_LOCK_WAIT_MS;
  return startLoop({
    everyMs: deps.everyMs,
    async tick() {
      try {
        if (await ccForms.ready()) await busy.run(() => chargePass({ ...deps, lockWaitMs }));
      } finally {
        // The review runs even when the pass failed: it is what applies due suspensions and lifts missed ones.
        // Its own failure is logged as its own: it never hides the pass's.
        if (deps.suspendAfterSeconds !== undefined) {
          await reviewStandings({
            pool: deps.pool,
            log: deps.log,
            suspendAfterSeconds: deps.suspendAfterSeconds,
            minimum: deps.minimum,
            now: deps.now,
            beforeReview: (accountId) => lookBeforeSuspending(deps, accountId),
          }).catch((err: unknown) => deps.log.error('standing.review_failed', err));
        }
      }
    },
    // Crash-only: whatever this pass recorded stands; the next one goes on from it.
    onError: (err) => deps.log.error('charging.pass_failed', err, unreachableFields(err, deps.gatewayOrigin)),
  });
}

// The charger's `charge.attempt` line: one per answered create or confirm, counted by its outcome.
import type { Logger } from '@vault/runtime';
import type { Answer, Decision } from './decide.ts';

/**
 * `stray`: the answer was succeeded, but what the gateway received does not pay the invoice
 * (save-payment.ts): logged outcome=stray, never counted as a success (`charge.stray` counts it).
 */
export function logAttempt(
  log: Logger,
  invoiceId: string,
  decision: Extract<Decision, { do: 'attempt' }>,
  answer: Answer,
  step: 'create' | 'confirm',
  stray = false,
): void {
  const fields = {
    invoice_id: invoiceId,
    attempt: decision.attempt,
    step,
    outcome: stray ? 'stray' : answer.kind,
    replay: decision.replay,
    new_round: decision.newRound,
    amount: decision.amount,
    ...(answer.kind === 'succeeded' ? {} : { code: answer.code, message: answer.message }),
    ...(answer.kind === 'declined' && answer.declineCode ? { decline_code: answer.declineCode } : {}),
    ...(stray ? {} : { [`count#charges.${answer.kind}`]: 1 }),
  };
  if (stray || answer.kind === 'unanswered' || answer.kind === 'refused') log.warn('charge.attempt', fields);
  else log.info('charge.attempt', fields);
}

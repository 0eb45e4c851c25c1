// The card attempts rate limit: at most `limit` attempts (setup intents) per
// account in any sliding hour; and the gateway lookups limit: at most
// GATEWAY_LOOKUPS_PER_MINUTE calls with the secret key an account's requests
// cause in any sliding minute. Pure: the stores read the recent rows under a
// lock and apply this decision.

export const WINDOW_SECONDS = 3600;

/** The gateway lookups limit's window. */
export const LOOKUP_WINDOW_SECONDS = 60;

/**
 * Gateway lookups per account per minute. Every account shares the platform's
 * gateway rate limit with the charger; a customer paying an invoice needs a few
 * (the page, its start call, a reload), so one a second leaves them room and
 * keeps one account's script to a small share of the platform's.
 */
export const GATEWAY_LOOKUPS_PER_MINUTE = 60;

export type AttemptDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

/**
 * `recent`: the account's attempts of the last window (an hour unless told),
 * oldest first. Refused when `limit` are already in the window; the retry
 * comes when enough of them have left it for one more to fit.
 */
export function decideAttempt(recent: readonly Date[], limit: number, now: Date, windowSeconds = WINDOW_SECONDS): AttemptDecision {
  const max = Math.max(1, Math.floor(limit));
  const inWindow = recent.filter((at) => now.getTime() - at.getTime() < windowSeconds * 1000);
  if (inWindow.length < max) return { allowed: true, remaining: max - inWindow.length - 1 };
  const freesASlot = inWindow[inWindow.length - max]!;
  const ms = freesASlot.getTime() + windowSeconds * 1000 - now.getTime();
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) };
}

/** "in 42 minutes", "in 1 minute", "in 30 seconds". */
export function waitWording(seconds: number): string {
  if (seconds < 60) return `in ${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `in ${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/** What the customer reads on a 429. */
export function rateLimitMessage(limit: number, retryAfterSeconds: number): string {
  const max = Math.max(1, Math.floor(limit));
  return (
    `You have tried ${max} card${max === 1 ? '' : 's'} in the last hour, the most we allow to protect your account. ` +
    `Please try again ${waitWording(retryAfterSeconds)}. Nothing was saved.`
  );
}

/** What the customer reads when the account's gateway lookups are used up: `outcome` says what did not happen. */
export function lookupLimitMessage(retryAfterSeconds: number, outcome: 'Nothing was saved.' | 'Nothing was charged.'): string {
  return (
    'Your account has made too many requests to the payment gateway in the last minute, the most we allow. ' +
    `Please try again ${waitWording(retryAfterSeconds)}. ${outcome}`
  );
}

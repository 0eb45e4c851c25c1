// The card attempts rate limit: at most `limit` attempts (setup intents) per
// account in any sliding hour. Pure: the store reads the recent attempts under
// a lock and applies this decision.

export const WINDOW_SECONDS = 3600;

export type AttemptDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

/**
 * `recent`: the account's attempts of the last hour, oldest first. Refused
 * when `limit` are already in the window; the retry comes when enough of them
 * have left it for one more to fit.
 */
export function decideAttempt(recent: readonly Date[], limit: number, now: Date): AttemptDecision {
  const max = Math.max(1, Math.floor(limit));
  const inWindow = recent.filter((at) => now.getTime() - at.getTime() < WINDOW_SECONDS * 1000);
  if (inWindow.length < max) return { allowed: true, remaining: max - inWindow.length - 1 };
  const freesASlot = inWindow[inWindow.length - max]!;
  const ms = freesASlot.getTime() + WINDOW_SECONDS * 1000 - now.getTime();
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

// An app loop's pass whose session lock another pass holds (another replica, a CLI run): it waits a
// bounded time, then gives up until its next tick. Nothing is wrong, so it is said at info, not as
// the pass failing; a holder that keeps the lock past a long while is said at warn, so a stuck
// session stays visible.
import { SESSION_LOCK_WAIT_MS, SessionLockTimeoutError } from './session-lock-wait.ts';

/** How long a loop's pass waits for another's before trying again next tick: a tick stays short, so the loop can stop. */
export const LOOP_LOCK_WAIT_MS = 60_000;

interface BusyLog {
  info(event: string, fields?: Record<string, string>): void;
  warn(event: string, fields?: Record<string, string>): void;
}

export class LockBusy {
  /** When the lock was first found held, over consecutive passes that did not get it. */
  private since: number | undefined;

  constructor(
    private readonly log: BusyLog,
    /** The line's event, e.g. `email.pass_skipped`. */
    private readonly event: string,
    /** Held this long over consecutive passes: said at warn (default SESSION_LOCK_WAIT_MS). */
    private readonly stuckAfterMs = SESSION_LOCK_WAIT_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** `pass`'s answer; undefined when its lock's wait ran out (logged). Any other failure is the pass's own. */
  async run<T>(pass: () => Promise<T>): Promise<T | undefined> {
    try {
      const answer = await pass();
      this.since = undefined;
      return answer;
    } catch (err) {
      if (!(err instanceof SessionLockTimeoutError)) {
        this.since = undefined;
        throw err;
      }
      const now = this.now();
      this.since ??= now - err.waitMs;
      const heldMs = now - this.since;
      const stuck = heldMs >= this.stuckAfterMs;
      this.log[stuck ? 'warn' : 'info'](this.event, {
        reason: 'another pass is running',
        lock: String(err.key),
        holder: err.holder,
        held_for: `${Math.round(heldMs / 1000)}s`,
        action: stuck
          ? 'tried again next tick; if that session is stuck, ending it (pg_terminate_backend) frees the lock'
          : 'tried again next tick',
      });
      return undefined;
    }
  }
}

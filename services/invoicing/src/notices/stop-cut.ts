// What bounds the notices publisher's stop. A silent broker (one that holds its connections and
// answers nothing) kept a tick's send waiting for kafkajs's request timeout (30 s an attempt, with
// retries), and the stop waited for the tick: SIGTERM outlasted the app's stop bound (20 s) and
// ended as a failed stop. At stop, a tick's calls to the bus are cut once NOTICES_STOP_WITHIN_MS
// have passed: the tick fails, lets go of its session lock, and nothing it sent is counted as
// published (its position moves only once the broker acknowledged), so the next start sends it again.
import type { Bus } from '@vault/bus';

/** How long the publisher's stop waits for a tick under way before cutting its calls to the bus. */
export const NOTICES_STOP_WITHIN_MS = 5_000;
/** How long, once cut, the tick and then the bus's close are waited for. */
export const NOTICES_CUT_WAIT_MS = 2_000;

/** Resolves to whether `promise` settled within `ms` (its outcome is the caller's concern). */
export function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true,
    () => true,
  );
  return Promise.race([settled, late]).finally(() => clearTimeout(timer));
}

/** A switch that makes the calls of the buses it wraps fail at once, those under way included. */
export class BusCut {
  private fire!: (err: Error) => void;
  private readonly cut = new Promise<never>((_, reject) => {
    this.fire = reject;
  });
  constructor() {
    // Nobody may be waiting on it when it fires.
    this.cut.catch(() => {});
  }
  /** Fails every call under way or to come on the buses wrapped. */
  now(): void {
    this.fire(new Error('the publisher is stopping: the call to the broker was cut'));
  }
  /** `call`'s outcome, or the cut's failure once cut. */
  race<T>(call: Promise<T>): Promise<T> {
    return Promise.race([call, this.cut]);
  }
  /** `bus`, its calls that wait on the broker (ensureTopic, describeLog, publish) failing when cut. */
  wrap(bus: Bus): Bus {
    const race = <T>(call: Promise<T>) => this.race(call);
    const wrapped: Bus = Object.create(bus);
    wrapped.ensureTopic = (...args) => race(bus.ensureTopic(...args));
    wrapped.describeLog = (...args) => race(bus.describeLog(...args));
    wrapped.publish = (...args) => race(bus.publish(...args));
    return wrapped;
  }
}

// The one shape of every background loop (finalize schedule, charging,
// webhook delivery): a tick, then a wait that a wake() cuts short; a failed
// tick is reported and the next one goes on (crash-only: whatever a tick
// recorded stands). The wait starts when a tick ends, so ticks never pile up
// behind a slow one.

export interface LoopOptions {
  /** Between the end of a tick and the next one. */
  everyMs: number;
  /** Before the first tick (default 0). */
  firstAfterMs?: number;
  /** One round of work; `true` when more is waiting, to run again at once. */
  // biome-ignore lint/suspicious/noConfusingVoidType: most ticks return nothing
  tick: (running: { stopped(): boolean }) => Promise<boolean | void>;
  /** A tick threw (not called once the loop is stopping). */
  onError: (err: unknown) => void;
}

export interface Loop {
  /** Runs the next tick now (or right after the one running). */
  wake(): void;
  /** Lets the running tick finish, then ends the loop. */
  stop(): Promise<void>;
}

export function startLoop(o: LoopOptions): Loop {
  let stopped = false;
  let woken = false;
  let cut: (() => void) | undefined;
  const running = { stopped: () => stopped };
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      cut = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => (cut = undefined));

  const done = (async () => {
    if (o.firstAfterMs) await wait(o.firstAfterMs);
    while (!stopped) {
      woken = false;
      let more = false;
      try {
        more = (await o.tick(running)) === true;
      } catch (err) {
        if (!stopped) o.onError(err);
      }
      if (stopped) break;
      if (!more && !woken) await wait(o.everyMs);
    }
  })();

  return {
    wake() {
      woken = true;
      cut?.();
    },
    async stop() {
      stopped = true;
      cut?.();
      await done;
    },
  };
}

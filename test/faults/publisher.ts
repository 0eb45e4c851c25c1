// A platform publisher as events-v1 describes one: it POSTs small NDJSON
// batches to metering at a steady pace and, at least once, retries a batch
// on any failure (refused connection, 5xx, no answer in time) until it gets
// its 202. It also re-sends batches it already had accepted, as a publisher
// recovering from its own crash would. The test releases batches in chunks,
// one just before each fault, so new events are always in flight when it hits.

export interface PublisherReport {
  /** Batches accepted with a 202 the first time they were due (each once). */
  accepted: number;
  /** Event lines deliberately sent again after their batch had been accepted. */
  resentLines: number;
  /** Requests that failed, by cause, each retried. */
  failures: Record<string, number>;
  posts: number;
}

export interface Publisher {
  /** Batches `[0, upTo)` may now be sent. */
  release(upTo: number): void;
  /** Resolves once every released batch has been accepted. */
  caughtUp(timeoutMs: number): Promise<void>;
  /** Sends what is released, then stops; resolves when the loop ended. */
  finish(): Promise<void>;
  /** Stops at once, whatever is left unsent (a test's cleanup). */
  abort(): Promise<void>;
  report(): PublisherReport;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startPublisher(o: {
  url: string;
  token: string;
  batches: string[];
  /** Pause between two requests. */
  paceMs: number;
  /** After every `resendEvery` new batches, one accepted batch is sent again. */
  resendEvery: number;
  /** How long a request may take before it counts as failed and is sent again. */
  timeoutMs: number;
  log: (line: string) => void;
}): Publisher {
  let released = 0;
  let next = 0;
  let finishing = false;
  let aborted = false;
  let n = 0;
  const report: PublisherReport = { accepted: 0, resentLines: 0, failures: {}, posts: 0 };
  // A deterministic choice of batches to re-send.
  const pick = () => (n++ * 7919) % Math.max(1, next);

  let failingSince: number | undefined;
  async function post(index: number): Promise<void> {
    while (!aborted) {
      report.posts++;
      let cause: string;
      try {
        const res = await fetch(`${o.url}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/x-ndjson' },
          body: o.batches[index],
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        await res.arrayBuffer();
        if (res.status === 202) {
          if (failingSince !== undefined) {
            o.log(`publisher: accepted again after ${((Date.now() - failingSince) / 1000).toFixed(1)} s of failures`);
            failingSince = undefined;
          }
          return;
        }
        cause = `HTTP ${res.status}`;
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        cause = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.name);
      }
      report.failures[cause] = (report.failures[cause] ?? 0) + 1;
      if (failingSince === undefined) {
        failingSince = Date.now();
        o.log(`publisher: batch ${index} failed (${cause}); retrying until accepted`);
      }
      await sleep(250);
    }
  }

  const lines = (index: number) => o.batches[index]!.split('\n').filter(Boolean).length;
  const loop = (async () => {
    while (!aborted && (!finishing || next < released)) {
      if (next < released) {
        await post(next);
        next++;
        report.accepted++;
        if (next % o.resendEvery === 0) {
          const again = pick();
          await post(again);
          report.resentLines += lines(again);
        }
      } else if (next > 0) {
        // Nothing new yet: the stream keeps flowing with re-sends.
        const again = pick();
        await post(again);
        report.resentLines += lines(again);
        await sleep(2 * o.paceMs);
      }
      await sleep(o.paceMs);
    }
  })();

  return {
    release(upTo) {
      released = Math.min(Math.max(released, upTo), o.batches.length);
    },
    async caughtUp(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (next < released) {
        if (Date.now() > deadline)
          throw new Error(`publisher: ${released - next} released batches still not accepted after ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    async finish() {
      finishing = true;
      await loop;
    },
    async abort() {
      aborted = true;
      await loop;
    },
    report: () => report,
  };
}

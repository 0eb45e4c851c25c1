// bench:usage's open-loop driver: requests leave on a fixed schedule at the
// offered rate whatever the answers do, and each latency counts from the
// request's scheduled time, so a slow server cannot slow the load down and
// hide its own queueing (no coordinated omission).
import { mulberry32 } from '@vault/simulator';

/** When each request is due, in ms from the start: `rate` per second for `seconds`. */
export function schedule(rate: number, seconds: number): number[] {
  if (!(rate > 0) || !(seconds > 0)) throw new RangeError(`rate and seconds must be positive, got ${rate} and ${seconds}`);
  const count = Math.round(rate * seconds);
  return Array.from({ length: count }, (_, i) => (i * 1000) / rate);
}

/** The p-th percentile (0–100) of ascending samples, nearest rank; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** A request's fate: its latency from its scheduled time, or why it failed. */
export type Outcome = { ok: true; ms: number } | { ok: false; ms: number; error: string };

export interface LoadSummary {
  offered: number;
  completed: number;
  errors: number;
  /** Completed without error per second of the run (first schedule slot to last answer). */
  rps: number;
  p50: number;
  p99: number;
  max: number;
  /** The first few distinct errors, with how often each happened. */
  errorKinds: Map<string, number>;
}

/** Percentiles over every request, errors included (a timeout counts as its full wait). */
export function summarize(outcomes: readonly Outcome[], elapsedMs: number): LoadSummary {
  const sorted = outcomes.map((o) => o.ms).sort((a, b) => a - b);
  const errorKinds = new Map<string, number>();
  let errors = 0;
  for (const o of outcomes) {
    if (o.ok) continue;
    errors++;
    errorKinds.set(o.error, (errorKinds.get(o.error) ?? 0) + 1);
  }
  const completed = outcomes.length - errors;
  return {
    offered: outcomes.length,
    completed,
    errors,
    rps: elapsedMs > 0 ? completed / (elapsedMs / 1000) : 0,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    errorKinds,
  };
}

export interface OpenLoop {
  rate: number;
  seconds: number;
  /** Sends request `i`; resolves when it is answered and checked, rejects (with why) if it failed. */
  send(i: number): Promise<void>;
  now?: () => number;
}

/** Every request's outcome, by index, and the run's length (first due time to last answer). */
export interface LoadRun {
  outcomes: Outcome[];
  elapsedMs: number;
}

/**
 * Runs the schedule: a timer wakes at each due time and sends whatever is due
 * (late wakes send the backlog at once, never skipping). Resolves once every
 * request has been answered or has failed.
 */
export async function runOpenLoop({ rate, seconds, send, now = () => performance.now() }: OpenLoop): Promise<LoadRun> {
  const due = schedule(rate, seconds);
  const outcomes: Outcome[] = new Array(due.length);
  const start = now();
  const inFlight: Promise<void>[] = [];
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = now() - start;
      for (; next < due.length && due[next]! <= elapsed; next++) {
        const i = next;
        const scheduled = start + due[i]!;
        inFlight.push(
          send(i).then(
            () => {
              outcomes[i] = { ok: true, ms: now() - scheduled };
            },
            (err: unknown) => {
              outcomes[i] = { ok: false, ms: now() - scheduled, error: err instanceof Error ? err.message : String(err) };
            },
          ),
        );
      }
      if (next >= due.length) resolve();
      else setTimeout(tick, Math.max(0, due[next]! - (now() - start)));
    };
    tick();
  });
  await Promise.all(inFlight);
  return { outcomes, elapsedMs: now() - start };
}

/** A small seeded PRNG (the simulator's mulberry32): the same accounts in the same order on every run. */
export const seededRandom = (seed: number): (() => number) => mulberry32(seed);

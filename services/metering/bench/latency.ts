/** Cumulative count over time: (ms, count) samples, count never decreasing. */
export type Curve = [number, number][];

/**
 * Event-to-usage latency from two cumulative curves: when the k-th event was
 * durably published, and when the k-th event was applied (a committed
 * counter). Exact when events are applied in publish order; across
 * partitions, a close estimate at the sampling resolution.
 */
export function latencies(published: Curve, applied: Curve, total: number, step = 10): number[] {
  const out: number[] = [];
  let p = 0;
  let a = 0;
  for (let k = 1; k <= total; k += step) {
    while (p < published.length && published[p]![1] < k) p++;
    while (a < applied.length && applied[a]![1] < k) a++;
    if (p === published.length || a === applied.length) break;
    out.push(Math.max(0, applied[a]![0] - published[p]![0]));
  }
  return out;
}

export function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

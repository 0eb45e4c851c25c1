// THE TEST ORACLE, not production code. An independent, obviously correct
// restatement of the clipping rules (docs/contracts/invoicing.md, Rating) in
// plain TypeScript: loops over intervals, no SQL, no cleverness. Production
// sums usage in SQL (src/store/line-usage.ts, src/store/holds.ts); the
// property test in billing.test.ts compares that SQL with this on random
// usage. Nothing in src/ may import this file.
import type { Period } from '../src/domain/period.ts';
import type { LineUsage, UsageKind } from '../src/domain/usage.ts';

/** An interval of usage as metering derives it: one dyno or add-on on one product, [from, to). */
export interface UsageSpan {
  appId: string;
  kind: UsageKind;
  /** The dyno name or the add-on id. */
  key: string;
  product: string;
  fromMs: number;
  /** Null while it still runs. */
  toMs: number | null;
}

/** Who pays for an app over [from, to). */
export interface OwnershipSpan {
  appId: string;
  accountId: string;
  fromMs: number;
  toMs: number | null;
}

type Span = { fromMs: number; toMs: number | null };

/** The part of a span inside [fromMs, toMs), or undefined when there is none. An open span runs on. */
function clip(span: Span, fromMs: number, toMs: number): [number, number] | undefined {
  const from = Math.max(span.fromMs, fromMs);
  const to = Math.min(span.toMs ?? Infinity, toMs);
  return to > from ? [from, to] : undefined;
}

/** The part of a usage span that can be billed for the period: inside it and before `untilMs`. */
function billable(u: UsageSpan, period: Period, untilMs: number): [number, number] | undefined {
  return clip(u, period.start.toMillis(), Math.min(period.end.toMillis(), untilMs));
}

/**
 * An account's usage in a period, per line key: every interval clipped to the
 * period, to `untilMs` (an open interval counts up to it), and to the spans in
 * which the account owned the app. Overlapping intervals of one key add up.
 */
export function accountUsage(
  accountId: string,
  period: Period,
  usage: readonly UsageSpan[],
  ownership: readonly OwnershipSpan[],
  untilMs: number,
): LineUsage[] {
  const lines = new Map<string, LineUsage>();
  for (const u of usage) {
    const window = billable(u, period, untilMs);
    if (!window) continue;
    for (const o of ownership) {
      if (o.accountId !== accountId || o.appId !== u.appId) continue;
      const paid = clip(o, ...window);
      if (!paid) continue;
      const id = JSON.stringify([u.appId, u.kind, u.key, u.product]);
      const line = lines.get(id) ?? { appId: u.appId, kind: u.kind, key: u.key, product: u.product, ms: 0 };
      line.ms += paid[1] - paid[0];
      lines.set(id, line);
    }
  }
  return [...lines.values()];
}

/** Milliseconds of an app's usage in the period that no account owned: such usage holds the month. */
export function unownedMs(appUsage: readonly UsageSpan[], appOwnership: readonly OwnershipSpan[], period: Period, untilMs: number): number {
  let total = 0;
  for (const u of appUsage) {
    const window = billable(u, period, untilMs);
    if (!window) continue;
    total += window[1] - window[0];
    // Ownership spans of one app never overlap (metering's exclusion constraint).
    for (const o of appOwnership) {
      const owned = o.appId === u.appId ? clip(o, ...window) : undefined;
      if (owned) total -= owned[1] - owned[0];
    }
  }
  return total;
}

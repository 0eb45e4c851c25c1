import type { Period } from './period.ts';

export type UsageKind = 'dyno' | 'addon';

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

/** The usage of one line key, summed over its clipped intervals. */
export interface LineUsage {
  appId: string;
  kind: UsageKind;
  key: string;
  product: string;
  /** Integer milliseconds: exact, and an exact decimal of seconds. */
  ms: number;
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
  const periodFrom = period.start.toMillis();
  const periodTo = Math.min(period.end.toMillis(), untilMs);
  const owned = new Map<string, OwnershipSpan[]>();
  for (const o of ownership) {
    if (o.accountId !== accountId) continue;
    owned.set(o.appId, [...(owned.get(o.appId) ?? []), o]);
  }
  const lines = new Map<string, LineUsage>();
  for (const u of usage) {
    for (const o of owned.get(u.appId) ?? []) {
      const from = Math.max(u.fromMs, o.fromMs, periodFrom);
      const to = Math.min(u.toMs ?? Infinity, o.toMs ?? Infinity, periodTo);
      if (to <= from) continue;
      const id = JSON.stringify([u.appId, u.kind, u.key, u.product]);
      const line = lines.get(id) ?? { appId: u.appId, kind: u.kind, key: u.key, product: u.product, ms: 0 };
      line.ms += to - from;
      lines.set(id, line);
    }
  }
  return [...lines.values()];
}

/** Milliseconds of an app's usage in the period that no account owned: such usage holds the month. */
export function unownedMs(
  appUsage: readonly UsageSpan[],
  appOwnership: readonly OwnershipSpan[],
  period: Period,
  untilMs: number,
): number {
  const periodFrom = period.start.toMillis();
  const periodTo = Math.min(period.end.toMillis(), untilMs);
  let total = 0;
  for (const u of appUsage) {
    const from = Math.max(u.fromMs, periodFrom);
    const to = Math.min(u.toMs ?? Infinity, periodTo);
    if (to <= from) continue;
    // Ownership spans of one app never overlap (metering's exclusion constraint).
    let covered = 0;
    for (const o of appOwnership) {
      if (o.appId !== u.appId) continue;
      covered += Math.max(0, Math.min(to, o.toMs ?? Infinity) - Math.max(from, o.fromMs));
    }
    total += to - from - covered;
  }
  return total;
}

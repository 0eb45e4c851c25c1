import type { LineKind } from '@vault/contracts';

export type UsageKind = Exclude<LineKind, 'adjustment' | 'carried'>;

/**
 * The usage of one line key, summed over its clipped intervals. Production
 * sums it in SQL (store/line-usage.ts); the tests' oracle (test/oracle.ts)
 * restates the clipping in plain TypeScript.
 */
export interface LineUsage {
  appId: string;
  kind: UsageKind;
  key: string;
  product: string;
  /** Integer milliseconds: exact, and an exact decimal of seconds. */
  ms: number;
}

/** What makes two intervals one invoice line: the app, the kind, the dyno name or add-on id, and the product. */
export function lineId(appId: string, kind: string, key: string, product: string): string {
  return JSON.stringify([appId, kind, key, product]);
}

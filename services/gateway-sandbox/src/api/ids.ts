import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `n` random base62 characters (rejection sampling: no modulo bias). */
export function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const byte of randomBytes(n * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === n) break;
    }
  }
  return out;
}

export type IdPrefix = 'cus' | 'pm' | 'seti' | 'pi' | 'ch' | 're' | 'evt' | 'we' | 'req' | 'src' | 'dp' | 'txn';

/** Stripe-looking ids: `cus_` + 24 random base62 characters. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase62(prefix === 'req' ? 14 : 24)}`;
}

/** A client secret as Stripe shapes them: `<intent id>_secret_<random>`. */
export function clientSecret(intentId: string): string {
  return `${intentId}_secret_${randomBase62(25)}`;
}

/** Unix seconds, as `created` fields carry. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

// A card's fingerprint: the same number gives the same fingerprint within one
// sandbox database, and nothing that leads back to the number.
import { createHmac } from 'node:crypto';
import type { Queryable } from '../store/transaction.ts';

/** 16 alphanumeric characters of HMAC-SHA256(key, digits), Stripe's fingerprint length. */
export function cardFingerprint(key: Buffer, digits: string): string {
  return createHmac('sha256', key)
    .update(digits, 'utf8')
    .digest('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 16);
}

/** The database's random key (written by migration 001), read once per process. */
export function fingerprintKeyLoader(pool: Queryable): () => Promise<Buffer> {
  let key: Promise<Buffer> | undefined;
  return () => {
    key ??= pool
      .query<{ key: Buffer }>('select key from gateway_sandbox.fingerprint_key')
      .then((r) => r.rows[0]!.key)
      .catch((err: unknown) => {
        key = undefined;
        throw err;
      });
    return key;
  };
}
